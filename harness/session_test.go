package harness_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/loadgen"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/history"
)

// driveTally starts the tally in a session, sends n operations by hand (as
// a scenario does), waits for quiescence and judges with extra.
func driveTally(t *testing.T, s harness.System, n int, extra ...check.Checker) ([]check.Result, bool) {
	t.Helper()
	return driveTallyWith(t, s, false, n, extra...)
}

func driveTallyWith(t *testing.T, s harness.System, inMemory bool, n int, extra ...check.Checker) ([]check.Result, bool) {
	t.Helper()
	sess, err := harness.Start(t.Context(), s, harness.Options{
		Broker: harness.Broker{Kind: harness.BrokerMemory}, NoFault: true, Quiesce: 500 * time.Millisecond,
		HistoryInMemory: inMemory,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sess.Close(); err != nil {
			t.Error(err)
		}
	}()
	for i := range n {
		op := harness.Op{Seq: uint64(i), Key: "k", KeySeq: int64(i + 1), Intended: time.Now()}
		if err := sess.Instance().Send(t.Context(), op); err != nil {
			t.Fatal(err)
		}
	}
	settled, _ := sess.Quiesce(t.Context())
	if err := sess.Stop(); err != nil {
		t.Fatal(err)
	}
	results, err := sess.Judge(t.Context(), uint64(n), settled, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return results, settled
}

// TestSessionJudgesWhatItWasDriven: a session driven by hand is judged by
// the run's checkers: clean, every invariant holds; with a doubled
// effect, the duplicate-effect gate fails; an extra checker is run.
func TestSessionJudgesWhatItWasDriven(t *testing.T) {
	for _, inMemory := range []bool{false, true} {
		t.Run(fmt.Sprint("history in memory ", inMemory), func(t *testing.T) { sessionJudges(t, inMemory) })
	}
	if _, err := harness.Start(t.Context(), tally{}, harness.Options{Broker: harness.Broker{Kind: harness.BrokerMemory},
		HistoryInMemory: true, Out: t.TempDir()}); err == nil {
		t.Error("a history in memory was given a run directory")
	}
}

func sessionJudges(t *testing.T, inMemory bool) {
	t.Helper()
	counting := &opsSeen{}
	results, settled := driveTallyWith(t, tally{}, inMemory, 5, counting)
	if !settled {
		t.Fatal("a clean tally did not settle")
	}
	for _, r := range results {
		if !r.Valid {
			t.Errorf("clean session: %s failed: %+v", r.Invariant, r.Anomalies)
		}
	}
	if counting.seen.Load() == 0 {
		t.Error("the extra checker was not run over the history")
	}
	results, _ = driveTallyWith(t, tally{doubleEffect: true}, inMemory, 5)
	if !failed(results, check.InvNoDupEffect) {
		t.Errorf("a doubled effect passed the session's judgement: %+v", results)
	}
}

// opsSeen is an extra checker that counts the history it is given.
type opsSeen struct{ seen atomic.Int64 }

func (c *opsSeen) Name() string { return "ops seen" }

func (c *opsSeen) Check(ops []history.Op) check.Result {
	c.seen.Store(int64(len(ops)))
	return check.Result{Invariant: "ops seen", Valid: len(ops) > 0}
}

// busy is a tally that never says it is idle.
type busy struct{ tally }

func (b busy) Start(ctx context.Context, env *harness.Env) (harness.Instance, error) {
	in, err := b.tally.Start(ctx, env)
	return busyInstance{in}, err
}

type busyInstance struct{ harness.Instance }

func (busyInstance) Idle() bool { return false }

// TestSessionWaitsForIdle: a system with work of its own (Idler) is not
// settled while it says it is busy, even with no message in flight.
func TestSessionWaitsForIdle(t *testing.T) {
	if _, settled := driveTally(t, busy{}, 1); settled {
		t.Fatal("a system that never became idle was counted settled")
	}
	if _, settled := driveTally(t, tally{}, 1); !settled {
		t.Fatal("an idle system was not counted settled")
	}
}

func failed(results []check.Result, invariant string) bool {
	for _, r := range results {
		if r.Invariant == invariant {
			return !r.Valid
		}
	}
	return false
}

// TestRunRefusesABadSchedule: a nemesis whose schedule names a fault it
// did not give is an error of the run, not a report without a load.
func TestRunRefusesABadSchedule(t *testing.T) {
	_, err := harness.Run(t.Context(), tally{}, harness.Options{
		Broker: harness.Broker{Kind: harness.BrokerMemory}, NoFault: true, Quiesce: time.Second,
		Load: loadgen.Config{Rate: 10, Duration: 100 * time.Millisecond, Workers: 1, Keys: 1, Seed: 1},
		Nemesis: func(env.Component) ([]chaos.Fault, chaos.Schedule, error) {
			return nil, chaos.Schedule{Intervals: []chaos.Interval{{Fault: 3, End: time.Millisecond}}}, nil
		},
	})
	if !errors.Is(err, chaos.ErrBadNemesis) {
		t.Fatalf("err %v, want ErrBadNemesis", err)
	}
}

// failing is a tally whose consumers stop with an error at once.
type failing struct{ tally }

func (f failing) Start(ctx context.Context, e *harness.Env) (harness.Instance, error) {
	in, err := f.tally.Start(ctx, e)
	return failingInstance{in}, err
}

type failingInstance struct{ harness.Instance }

func (failingInstance) Run(context.Context) error { return errors.New("disk full") }

// TestRunReportsAFailedSystemOnce: a system that stops on its own fails
// the run with its error, said once.
func TestRunReportsAFailedSystemOnce(t *testing.T) {
	_, err := harness.Run(t.Context(), failing{}, harness.Options{
		Broker: harness.Broker{Kind: harness.BrokerMemory}, NoFault: true, Quiesce: time.Second,
		Load: loadgen.Config{Rate: 10, Duration: 200 * time.Millisecond, Workers: 1, Keys: 1, Seed: 1},
	})
	if err == nil || strings.Count(err.Error(), "disk full") != 1 {
		t.Fatalf("err %v, want the system's failure once", err)
	}
}
