package experiment_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/cmd/edload/echosystem"
	"github.com/edkit-dev/edkit/experiment"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/reports"
)

func run(t *testing.T, file string, edit func(*experiment.Experiment), base harness.Options) (*experiment.Journal, *reports.Run) {
	t.Helper()
	x, err := experiment.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(x)
	}
	base.Out, base.Quiesce, base.MinRate = t.TempDir(), 30*time.Second, 0.5
	o, err := x.Options(base)
	if err != nil {
		t.Fatal(err)
	}
	j, rep, err := experiment.Run(t.Context(), x, echosystem.New(), o)
	if err != nil {
		t.Fatal(err)
	}
	return j, rep
}

// TestExperimentCompletes: the echo system on embedded Kafka meets its
// steady state before a broker kill, recovers within the limit after it,
// and the journal has the fault's recovery figures.
func TestExperimentCompletes(t *testing.T) {
	t.Parallel()
	j, _ := run(t, "testdata/kill.yaml", nil, clean)
	if !j.OK() {
		t.Fatalf("experiment %s: %v\n%+v", j.Status, j.Problems, j)
	}
	if len(j.Faults) != 1 {
		t.Fatalf("faults %+v", j.Faults)
	}
	f := j.Faults[0]
	if f.Fault != "kill kafka" || !f.Recovered || f.RecoveredAfter > 2*time.Second || f.LagPeak == 0 || f.Healed-f.Injected < 900*time.Millisecond {
		t.Errorf("fault outcome %+v", f)
	}
	if len(j.Before) != 2 || !j.Before[0].OK || len(j.After) != 2 {
		t.Errorf("probes before %+v after %+v", j.Before, j.After)
	}
}

// TestExperimentFailsWhereItShould: a recovery slower than the limit, an
// invariant the system breaks, and a steady state it never had each fail
// the experiment, saying which.
func TestExperimentFailsWhereItShould(t *testing.T) {
	cases := []struct {
		name string
		edit func(*experiment.Experiment)
		base harness.Options
		says string
	}{
		{"slow recovery", func(x *experiment.Experiment) {
			x.Broker.Proxied = true
			x.Method = []experiment.Step{{Fault: "partition", At: 2 * time.Second, Hold: 1500 * time.Millisecond}}
			x.Hypothesis.MaxInFlight, x.Recovery = 20, time.Millisecond
		}, clean, "partition kafka: the steady state"},
		// The default message fault duplicates deliveries; the echo system
		// without its inbox counts each twice.
		{"broken invariant", nil, harness.Options{Dedup: false}, "invariant no-duplicate-effect broken"},
		{"never steady", func(x *experiment.Experiment) { x.Hypothesis.MaxE2EP99 = time.Microsecond }, clean,
			"the steady state did not hold before the first fault: e2e p99"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			j, _ := run(t, "testdata/kill.yaml", c.edit, c.base)
			if j.OK() || j.Status != experiment.StatusFailed {
				t.Fatalf("experiment %s: %+v", j.Status, j)
			}
			if !strings.Contains(strings.Join(j.Problems, "\n"), c.says) {
				t.Errorf("problems %q, want one saying %q", j.Problems, c.says)
			}
		})
	}
}

// clean is a run with no message fault and the echo system's inbox on.
var clean = harness.Options{NoFault: true, Dedup: true}

// TestLoseAckExperiment: lost acks while the fault is held break a system
// without its inbox — the duplicate effects placed on the fault's window
// on the timeline — and not one with it.
func TestLoseAckExperiment(t *testing.T) {
	const file = `title: lost acks
system: echo
broker: {kind: memory}
load: {rate: "200", duration: 3s, keys: 10, workers: 8}
steady-state: {min-throughput: 100}
method:
  - {fault: lose-ack, at: 1s, hold: 1s, rate: 0.2}
recovery: 1s
`
	for _, dedup := range []bool{true, false} {
		t.Run(map[bool]string{true: "inbox", false: "no inbox"}[dedup], func(t *testing.T) {
			t.Parallel()
			x, err := experiment.Parse("lose-ack.yaml", []byte(file))
			if err != nil {
				t.Fatal(err)
			}
			o, err := x.Options(harness.Options{Dedup: dedup, NoFault: true, Out: t.TempDir(), Quiesce: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			j, _, err := experiment.Run(t.Context(), x, echosystem.New(), o)
			if err != nil {
				t.Fatal(err)
			}
			if j.OK() != dedup {
				t.Fatalf("dedup=%v: experiment %s: %v", dedup, j.Status, j.Problems)
			}
			if dedup {
				return
			}
			for _, v := range j.Invariants {
				if v.Invariant != "no-duplicate-effect" {
					continue
				}
				if len(v.Anomalies) == 0 {
					t.Fatalf("no anomalies placed: %+v", v)
				}
				for _, a := range v.Anomalies {
					if a.Fault != "lose-ack 0.2" || (!a.While && a.SinceHeal > 200*time.Millisecond) {
						t.Errorf("anomaly %+v not in the lose-ack window", a)
					}
				}
				return
			}
			t.Fatal("no no-duplicate-effect verdict")
		})
	}
}

// TestShrink: a method of three lost-ack windows that breaks the echo
// system without its inbox shrinks to one shorter window that still
// breaks it; the file it writes replays the failure.
func TestShrink(t *testing.T) {
	const file = `title: lost acks, three times
system: echo
broker: {kind: memory}
load: {rate: "200", duration: 2s, keys: 10, workers: 8}
steady-state: {min-throughput: 50}
method:
  - {fault: lose-ack, at: 300ms, hold: 400ms, rate: 0.3}
  - {fault: lose-ack, at: 800ms, hold: 400ms, rate: 0.3}
  - {fault: lose-ack, at: 1300ms, hold: 400ms, rate: 0.3}
recovery: 1s
`
	x, err := experiment.Parse("three.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	runner := func(ctx context.Context, y *experiment.Experiment) (*experiment.Journal, error) {
		o, err := y.Options(harness.Options{Dedup: false, NoFault: true, Out: t.TempDir(), Quiesce: 10 * time.Second})
		if err != nil {
			return nil, err
		}
		j, _, err := experiment.Run(ctx, y, echosystem.New(), o)
		return j, err
	}
	small, trials, err := experiment.Shrink(t.Context(), x, runner, 12, 2*time.Second, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(small.Method) != 1 || small.Method[0].Hold >= 400*time.Millisecond {
		t.Fatalf("shrunk to %+v after %d trials", small.Method, len(trials))
	}
	path := filepath.Join(t.TempDir(), "shrunk.yaml")
	if err := small.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	again, err := experiment.ParseFile(path)
	if err != nil {
		t.Fatalf("the shrunk file does not parse: %v", err)
	}
	j, err := runner(t.Context(), again)
	if err != nil {
		t.Fatal(err)
	}
	if j.OK() {
		t.Fatalf("the shrunk experiment passed on replay: %+v", j)
	}
}
