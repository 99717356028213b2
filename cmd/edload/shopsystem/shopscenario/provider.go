package shopscenario

import (
	"context"
	"time"

	"github.com/edkit-dev/edkit/scenarios"
)

// Provider offers the shop's scenario files to `edload scenario`.
type Provider struct{}

var _ scenarios.Provider = Provider{}

// ParseScenarios parses one file of shop scenarios.
func (Provider) ParseScenarios(path string) ([]scenarios.Case, error) {
	scs, err := LoadFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]scenarios.Case, len(scs))
	for i, sc := range scs {
		out[i] = caseOf{sc}
	}
	return out, nil
}

type caseOf struct{ sc *Scenario }

func (c caseOf) Name() string { return c.sc.Name }

// Run runs the scenario on a fresh membus, or in its own namespace of
// topics and groups on the Kafka at broker.Addrs.
func (c caseOf) Run(ctx context.Context, broker scenarios.Broker, timeout time.Duration) (scenarios.Verdict, error) {
	var target Target = InMemory()
	if broker.Kind == "kafka" {
		target = Kafka(broker.Addrs)
	}
	o, err := Run(ctx, c.sc, target, WithTimeout(timeout))
	if err != nil {
		return scenarios.Verdict{}, err
	}
	return scenarios.Verdict{Scenario: o.Scenario, Passed: o.Passed(), Checked: len(o.Results),
		Duration: o.Duration, Report: o.String()}, nil
}
