package scenarios

import (
	"time"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/history"
)

// Verdict is what one scenario run found.
type Verdict struct {
	Scenario string
	// Environment names where it ran ("memory on membus", "kafka on
	// embedded-kafka").
	Environment string
	Passed      bool
	// Checked counts the expectations judged.
	Checked  int
	Duration time.Duration
	// Report is the human report: each expectation and, on failure, the
	// message sequence the run saw.
	Report string
	// Results are the expectations' and the run's checkers' verdicts
	// (scenario files run by Run; nil from a Provider's own runner).
	Results []check.Result
	// Ops are the start of the recorded history (at most 300 ops; Truncated
	// says the run recorded more), for matchers such as HavePublishedOn.
	Ops       []history.Op
	Truncated bool
}
