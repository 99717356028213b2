package shopscenario

import (
	"fmt"
	"strings"
	"time"

	"github.com/edkit-dev/edkit/reports"
)

// Result is one expectation's verdict.
type Result struct {
	Expectation Expectation
	Passed      bool
	// Message says what was observed when the expectation failed (or last
	// held, when it passed).
	Message string
}

// Outcome is what running a scenario on a target found.
type Outcome struct {
	Scenario string
	Target   string
	Results  []Result
	// Transcript is every message the run saw.
	Transcript Transcript
	// Problems are run-level failures besides expectations: the system
	// never became quiescent, or the service stopped on its own.
	Problems []string
	Duration time.Duration
}

// Passed reports whether every expectation held.
func (o *Outcome) Passed() bool {
	if len(o.Problems) > 0 {
		return false
	}
	for _, r := range o.Results {
		if !r.Passed {
			return false
		}
	}
	return true
}

// Failures returns the results that did not hold.
func (o *Outcome) Failures() []Result {
	var out []Result
	for _, r := range o.Results {
		if !r.Passed {
			out = append(out, r)
		}
	}
	return out
}

// String reports each expectation and, when one failed, the transcript.
// Everything that came from the scenario file or the broker (names, IDs,
// payload fields) is printed through reports.Clean, one line each: a
// hostile ID cannot forge a PASS line or reach the terminal as an escape
// sequence.
func (o *Outcome) String() string {
	var b strings.Builder
	verdict := "PASS"
	if !o.Passed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s: scenario %q on %s (%s)\n", verdict, o.Scenario, reports.Clean(o.Target), o.Duration.Round(time.Millisecond))
	for _, r := range o.Results {
		mark := "ok  "
		if !r.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %s", mark, reports.Clean(r.Expectation.String()))
		if r.Expectation.Pos.Line > 0 {
			fmt.Fprintf(&b, " (%s:%d)", reports.Clean(r.Expectation.Pos.File), r.Expectation.Pos.Line)
		}
		if !r.Passed && r.Message != "" {
			fmt.Fprintf(&b, ": %s", reports.Clean(r.Message))
		}
		b.WriteByte('\n')
	}
	for _, p := range o.Problems {
		fmt.Fprintf(&b, "  FAIL %s\n", reports.Clean(p))
	}
	if !o.Passed() {
		fmt.Fprintf(&b, "transcript (%d entries):\n%s", len(o.Transcript), o.Transcript)
	}
	return b.String()
}
