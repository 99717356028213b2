package bank_test

import (
	"testing"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/examples/bank"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/reports"
)

// runBank drives the bank through edkit's whole pipeline: 400 transfers
// in 2 s over 20 keys, on membus, fault in front of every handler.
func runBank(t *testing.T, cfg bank.Config, fault *chaos.MessageFault) *reports.Run {
	t.Helper()
	rep, err := harness.Run(t.Context(), bank.New(cfg), harness.Options{
		Broker:  harness.Broker{Kind: harness.BrokerMemory},
		Load:    loadgen.Config{Rate: 200, Duration: 2 * time.Second, Workers: 8, Keys: 20, Seed: 1},
		Fault:   fault,
		Quiesce: 10 * time.Second, MinRate: 0.8, Out: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// duplicates handles one delivery in ten twice, as a broker that lost acks.
func duplicates(t *testing.T) *chaos.MessageFault {
	t.Helper()
	f, err := chaos.NewMessageFault(chaos.MessageFaultConfig{Seed: 1, Duplicate: 0.1}, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func result(t *testing.T, rep *reports.Run, invariant string) check.Result {
	t.Helper()
	for _, r := range rep.Invariants {
		if r.Invariant == invariant {
			return r
		}
	}
	t.Fatalf("no verdict on %s in %+v", invariant, rep.Invariants)
	return check.Result{}
}

func count(rep *reports.Run, name string) int64 {
	for _, c := range rep.Counts {
		if c.Name == name {
			return c.Value
		}
	}
	return -1
}

// failures lists what broke, for a failing test's message.
func failures(rep *reports.Run) []string {
	var out []string
	for _, r := range rep.Invariants {
		if !r.Valid {
			out = append(out, r.Invariant)
			for _, a := range r.Anomalies {
				out = append(out, "  "+a.Summary)
			}
		}
	}
	for _, th := range rep.Thresholds {
		if !th.OK {
			out = append(out, "threshold "+th.Name)
		}
	}
	return out
}

// TestLoad: under load, and with duplicated deliveries, every invariant
// holds — edkit's and the bank's — and compensation really ran.
func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(*testing.T) *chaos.MessageFault
	}{
		{"clean", func(*testing.T) *chaos.MessageFault { return nil }},
		{"duplicated deliveries", duplicates},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fault := tc.fault(t)
			rep := runBank(t, bank.Config{}, fault)
			if !rep.OK() {
				t.Fatalf("run failed:\n%v", failures(rep))
			}
			for _, inv := range []string{"money-conserved", "transfer-outcome", check.InvNoDupEffect, check.InvChoreography} {
				if r := result(t, rep, inv); r.Checked == 0 {
					t.Errorf("%s checked nothing", inv)
				}
			}
			for _, st := range []string{bank.Completed, bank.Rejected, bank.Compensated} {
				if n := count(rep, "transfers "+st); n <= 0 {
					t.Errorf("transfers %s = %d, want some: the load must exercise every outcome", st, n)
				}
			}
			if fault != nil && fault.Count(chaos.KindDuplicate) == 0 {
				t.Error("the fault duplicated nothing")
			}
		})
	}
}

// TestGatesCatchBugs: a deliberately broken bank fails its run, on the
// invariant its bug breaks.
func TestGatesCatchBugs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		bugs      bank.Bugs
		fault     func(*testing.T) *chaos.MessageFault
		invariant string
	}{
		{"skip compensation", bank.Bugs{SkipCompensation: true}, func(*testing.T) *chaos.MessageFault { return nil }, "money-conserved"},
		// The same bug, seen from the events alone: a credit failed and no
		// refund followed.
		{"skip compensation, observed", bank.Bugs{SkipCompensation: true}, func(*testing.T) *chaos.MessageFault { return nil }, check.InvChoreography},
		{"no dedup under duplicates", bank.Bugs{NoDedup: true}, duplicates, check.InvNoDupEffect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := runBank(t, bank.Config{Bugs: tc.bugs}, tc.fault(t))
			r := result(t, rep, tc.invariant)
			if r.Valid || len(r.Anomalies) == 0 || rep.OK() {
				t.Fatalf("%s not caught: %s valid=%v anomalies=%d ok=%v", tc.name, tc.invariant, r.Valid, len(r.Anomalies), rep.OK())
			}
			t.Logf("caught: %s: %s", tc.invariant, r.Anomalies[0].Summary)
		})
	}
}
