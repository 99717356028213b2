package echosystem

import (
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/loadgen"
)

func TestWindowForgetsOnlyOldIDs(t *testing.T) {
	w := newWindow(2)
	for _, id := range []string{"a", "b", "c"} {
		if !w.add(id) {
			t.Fatalf("%s reported seen before it was", id)
		}
	}
	if w.add("b") || w.add("c") {
		t.Fatal("a recent ID was forgotten")
	}
	w.add("d")
	w.add("e") // rotates: a and b are forgotten
	if !w.add("a") {
		t.Fatal("the window grew past two generations")
	}
}

// TestEchoRunPassesUnderDefaultFault: the echo system holds every
// invariant under the default fault with dedup on, and its gate fails with
// dedup off — the baseline system is judged like any other.
func TestEchoRunPassesUnderDefaultFault(t *testing.T) {
	for _, dedup := range []bool{true, false} {
		rep, err := harness.Run(t.Context(), New(), harness.Options{
			Broker: harness.Broker{Kind: harness.BrokerMemory},
			Load:   loadgen.Config{Rate: 500, Duration: time.Second, Workers: 8, Keys: 20, Seed: 3},
			Dedup:  dedup, Quiesce: 10 * time.Second, MinRate: 0.5,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() != dedup {
			t.Fatalf("dedup=%v: OK=%v\n%+v", dedup, rep.OK(), rep.Invariants)
		}
	}
}
