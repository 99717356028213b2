package shopsystem_test

import (
	"testing"

	"github.com/edkit-dev/edkit/cmd/edload/shopsystem"
	"github.com/edkit-dev/edkit/scenarios"
)

// TestScenarioFiles runs the shop's scenario files in the three modes: in
// memory, on an embedded Kafka and under duplicated and delayed deliveries.
func TestScenarioFiles(t *testing.T) {
	if n := len(scenarios.RunFiles(t, shopsystem.New(shopsystem.Config{}), "../../../scenarios/shop/*.yaml")); n != 15 {
		t.Errorf("%d scenarios ran, want the 5 files in 3 modes", n)
	}
}

// BenchmarkScenario runs the shop's happy path in memory on virtual time:
// the whole shop (command service, saga, projection, outbox relay) started
// through the run pipeline, the order placed and settled, and the history
// judged by every checker, per iteration.
func BenchmarkScenario(b *testing.B) {
	sys := shopsystem.New(shopsystem.Config{})
	sc, err := scenarios.ParseFile("../../../scenarios/shop/happy-path.yaml", sys.Vocabulary())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		v, err := scenarios.Run(b.Context(), sys, sc, scenarios.Memory)
		if err != nil || !v.Passed {
			b.Fatalf("%v\n%v", err, v)
		}
	}
}

// BenchmarkScenarioParallel runs the same scenario from several goroutines
// at once, as a suite of t.Parallel scenarios does: each run waits on the
// shop's hops more than it computes, so runs overlap.
func BenchmarkScenarioParallel(b *testing.B) {
	sys := shopsystem.New(shopsystem.Config{})
	sc, err := scenarios.ParseFile("../../../scenarios/shop/happy-path.yaml", sys.Vocabulary())
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v, err := scenarios.Run(b.Context(), sys, sc, scenarios.Memory)
			if err != nil || !v.Passed {
				b.Errorf("%v\n%v", err, v)
				return
			}
		}
	})
}
