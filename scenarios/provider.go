package scenarios

import (
	"context"
	"time"

	"github.com/edkit-dev/edkit/harness/check"
)

// Provider is a system that has scenario files: `edload scenario --system
// NAME` asserts it on the registered system, the way database/sql asserts
// a driver's optional interfaces.
type Provider interface {
	// ParseScenarios parses one file into its scenarios. A malformed file
	// is one or more *SpecError joined (file:line:column each), and
	// nothing of it runs.
	ParseScenarios(path string) ([]Case, error)
}

// Case is one parsed scenario, ready to run.
type Case interface {
	// Name names the scenario in reports.
	Name() string
	// Run runs the scenario on broker, each expectation allowed timeout to
	// hold. An error is a failure to run (the broker unreachable, ctx
	// done), not a failed expectation: that is a Verdict that did not pass.
	Run(ctx context.Context, broker Broker, timeout time.Duration) (Verdict, error)
}

// Broker is where a scenario runs.
type Broker struct {
	// Kind is "memory" (in process) or "kafka".
	Kind string
	// Addrs are the broker's bootstrap addresses; none for memory.
	Addrs []string
}

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
