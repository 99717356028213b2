package scenarios

import (
	"time"

	"github.com/edkit-dev/edkit/harness/check"
)

// Verdict is what one scenario run found.
type Verdict struct {
	Scenario string
	// Environment names where it ran ("memory on membus", "kafka on
	// embedded-kafka").
	Environment string
	Passed   bool
	// Checked counts the expectations judged.
	Checked  int
	Duration time.Duration
	// Report is the human report: each expectation and, on failure, the
	// message sequence the run saw.
	Report string
	// Results are the expectations' and the run's checkers' verdicts
	// (scenario files run by Run; nil from a Provider's own runner).
	Results []check.Result
}
