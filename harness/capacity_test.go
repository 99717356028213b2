package harness_test

import (
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/loadgen"
)

// TestFindMax searches the capacity of a tally whose one consumer takes
// 2 ms a message (about 500/s): the probes double from 100/s while the
// settled p99 holds under 100 ms, fail above the consumer's capacity, and
// the answer lies between.
func TestFindMax(t *testing.T) {
	slo, err := harness.ParseSLO("settled.p99<100ms")
	if err != nil {
		t.Fatal(err)
	}
	o := harness.Options{
		Broker:  harness.Broker{Kind: harness.BrokerMemory},
		Load:    loadgen.Config{Rate: 100, Duration: 600 * time.Millisecond, Workers: 8, Keys: 5, Seed: 1},
		Quiesce: 2 * time.Second, MinRate: 0.8, NoFault: true, SLO: slo,
	}
	var seen []harness.Probe
	c, err := harness.FindMax(t.Context(), tally{slow: 2 * time.Millisecond}, o, harness.SearchOptions{
		MaxProbes: 6, Precision: 0.2, OnProbe: func(p harness.Probe) { seen = append(seen, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Probes {
		t.Logf("probe %d: %.0f/s achieved %.0f/s ok=%v %v", p.N, p.Rate, p.Achieved, p.OK, p.Failed)
	}
	if len(seen) != len(c.Probes) || len(c.Probes) < 3 {
		t.Fatalf("%d probes reported, %d run: want at least 3", len(seen), len(c.Probes))
	}
	if c.Rate < 200 || c.Rate >= 1600 || c.Best == nil {
		t.Fatalf("capacity %v/s: want between 200/s and 1600/s for a 500/s consumer", c.Rate)
	}
	failed := false
	for _, p := range c.Probes {
		failed = failed || !p.OK
		if p.OK && p.Rate > c.Rate {
			t.Fatalf("probe at %v/s passed above the reported capacity %v/s", p.Rate, c.Rate)
		}
	}
	if !failed {
		t.Fatal("no probe failed: the search never found the limit")
	}
}

func TestFindMaxBadOptions(t *testing.T) {
	_, err := harness.FindMax(t.Context(), tally{}, harness.Options{}, harness.SearchOptions{Start: 10, Max: 5})
	if err == nil {
		t.Fatal("a start rate above the max rate was accepted")
	}
}

func TestPublishCeiling(t *testing.T) {
	rate, err := harness.PublishCeiling(t.Context(), harness.Broker{Kind: harness.BrokerMemory},
		harness.Ceiling{Workers: 4, Payload: 16, Duration: 200 * time.Millisecond, PerKeyOrder: true})
	if err != nil {
		t.Fatal(err)
	}
	if rate < 1000 {
		t.Fatalf("membus publish ceiling %.0f/s: want well above 1000/s", rate)
	}
	if _, err := harness.PublishCeiling(t.Context(), harness.Broker{Kind: "pigeon"}, harness.Ceiling{Duration: time.Millisecond}); err == nil {
		t.Fatal("an unknown broker measured a ceiling")
	}
}
