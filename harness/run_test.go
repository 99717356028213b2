package harness_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/edkit-dev/edkit/cmd/edload/echosystem"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/history"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reports"
)

// tally is the smallest system there is: each operation is one message on
// "in", and the "worker" group counts it (an effect). Its bugs are
// switchable, to prove the run core catches them on a system that is not
// the shop.
type tally struct {
	doubleEffect bool // the handler's effect runs twice
	noDedup      bool // the handler runs a redelivered message again
	slow         time.Duration
	dlqEvery     int  // every Nth message fails and is dead-lettered
	lieAboutDLQ  bool // ...or the handler only says it dead-lettered it
}

// DeadLetterTopics makes the run observe the tally's DLQ.
func (s tally) DeadLetterTopics() []string { return []string{"in.dlq"} }

func (s tally) Name() string { return "tally" }

func (s tally) Start(_ context.Context, env *harness.Env) (harness.Instance, error) {
	return &tallyInstance{sys: s, env: env}, nil
}

type tallyInstance struct {
	sys  tally
	env  *harness.Env
	seen sync.Map // message IDs handled: the inbox
	// sending publishes one message per key at a time, as one producer
	// per key does: concurrent publishes of a key may reach a broker in
	// either order (NATS takes them so), and per-key order means nothing.
	sending harness.KeyLocks
}

func (in *tallyInstance) Run(ctx context.Context) error {
	dlq := bus.DeadLetter(in.env.Bus, "in.dlq", "worker", bus.OnDeadLetter(func(ctx context.Context, m *bus.Message, reason string, attempts int) {
		in.env.DeadLetter(ctx, "worker", m, reason, attempts)
	}))
	err := bus.Consume(ctx, in.env.Bus, "in", "worker", in.env.Consumer("worker", dlq(func(ctx context.Context, m *bus.Message) error {
		if n := in.sys.dlqEvery; n > 0 && seqOf(m.ID)%n == 0 {
			in.env.Settled.Done(m.ID, time.Now())
			if in.sys.lieAboutDLQ {
				in.env.DeadLetter(ctx, "worker", m, "poison", 1) // says so, publishes nothing
				return nil
			}
			return errors.New("poison")
		}
		if _, dup := in.seen.LoadOrStore(m.ID, true); dup && !in.sys.noDedup {
			return nil
		}
		time.Sleep(in.sys.slow)
		in.env.Effect(ctx, "count")
		if in.sys.doubleEffect {
			in.env.Effect(ctx, "count")
		}
		in.env.Settled.Done(m.ID, time.Now())
		return nil
	})))
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func seqOf(id string) int {
	var n int
	_, _ = fmt.Sscanf(id, "t-%d", &n)
	return n
}

func (in *tallyInstance) Send(ctx context.Context, op harness.Op) error {
	id := fmt.Sprint("t-", op.Seq)
	in.env.Settled.Start(id, op.Intended)
	defer in.sending.Lock(op.Key)()
	return in.env.Bus.Publish(ctx, &bus.Message{ID: id, Topic: "in", Key: op.Key, Payload: []byte("1")})
}

func (in *tallyInstance) Consumers() map[string][]string {
	return map[string][]string{"in": {"worker"}}
}

func runTally(t *testing.T, s tally, noFault bool) *reports.Run {
	t.Helper()
	rep, err := harness.Run(t.Context(), s, harness.Options{
		Broker:  harness.Broker{Kind: harness.BrokerMemory},
		Load:    loadgen.Config{Rate: 200, Duration: 500 * time.Millisecond, Workers: 4, Keys: 5, Seed: 1},
		Quiesce: 5 * time.Second, MinRate: 0.5, Out: t.TempDir(), NoFault: noFault,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func verdict(rep *reports.Run, invariant string) (valid, found bool) {
	for _, r := range rep.Invariants {
		if r.Invariant == invariant {
			return r.Valid, true
		}
	}
	return false, false
}

// TestRunJudgesAnySystem runs the pipeline on a system that is not the
// shop: clean, it passes every invariant; with a duplicated effect, the
// duplicate-effect gate fails.
func TestRunJudgesAnySystem(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		rep := runTally(t, tally{}, false)
		if !rep.OK() {
			t.Fatalf("clean tally failed: %+v", rep.Invariants)
		}
		if len(rep.Latencies) != 3 || rep.Latencies[1].Count == 0 {
			t.Fatalf("latencies %+v: want send, settled (tracked by the system) and schedule lag", rep.Latencies)
		}
	})
	t.Run("double effect", func(t *testing.T) {
		rep := runTally(t, tally{doubleEffect: true}, false)
		valid, found := verdict(rep, "no-duplicate-effect")
		if !found || valid || rep.OK() {
			t.Fatalf("doubled effects not caught: %+v", rep.Invariants)
		}
	})
}

// TestDefaultFaultTestsSomething: a handler that does not deduplicate
// passes a run without faults — nothing redelivers — and fails the default
// run, whose duplicated deliveries are what such a bug needs to show.
func TestDefaultFaultTestsSomething(t *testing.T) {
	if rep := runTally(t, tally{noDedup: true}, true); !rep.OK() {
		t.Fatalf("without faults the bug should hide: %+v", rep.Invariants)
	}
	rep := runTally(t, tally{noDedup: true}, false)
	if valid, found := verdict(rep, "no-duplicate-effect"); !found || valid {
		t.Fatalf("the default fault did not expose the missing dedup: %+v", rep.Invariants)
	}
}

// TestUnsettledIsNotLost: a system still working through its backlog when
// the quiesce deadline passes has lost nothing; the run fails on the
// unsettled count, by name. One that stopped making progress with messages
// unsettled (the drop fault acks them unseen) has lost them.
func TestUnsettledIsNotLost(t *testing.T) {
	opts := func(t *testing.T) harness.Options {
		t.Helper()
		return harness.Options{
			Broker:  harness.Broker{Kind: harness.BrokerMemory},
			Load:    loadgen.Config{Rate: 200, Duration: 500 * time.Millisecond, Workers: 4, Keys: 5, Seed: 1},
			Quiesce: time.Second, MinRate: 0.5, Out: t.TempDir(), NoFault: true,
		}
	}
	threshold := func(rep *reports.Run) reports.Threshold {
		for _, th := range rep.Thresholds {
			if th.Name == "unsettled at the quiesce deadline" {
				return th
			}
		}
		t.Fatalf("no unsettled threshold in %+v", rep.Thresholds)
		return reports.Threshold{}
	}
	t.Run("busy", func(t *testing.T) {
		rep, err := harness.Run(t.Context(), tally{slow: 40 * time.Millisecond}, opts(t))
		if err != nil {
			t.Fatal(err)
		}
		if valid, _ := verdict(rep, "no-acknowledged-loss"); !valid {
			t.Fatalf("a busy system was judged lossy: %+v", rep.Invariants)
		}
		if th := threshold(rep); th.OK || th.Actual == 0 || rep.OK() {
			t.Fatalf("the unsettled backlog did not fail the run: %v", th)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		o := opts(t)
		fault, err := chaos.NewMessageFault(chaos.MessageFaultConfig{Seed: 1, Drop: 0.2}, clock.Real{})
		if err != nil {
			t.Fatal(err)
		}
		o.Fault, o.NoFault = fault, false
		rep, err := harness.Run(t.Context(), tally{}, o)
		if err != nil {
			t.Fatal(err)
		}
		if valid, _ := verdict(rep, "no-acknowledged-loss"); valid {
			t.Fatalf("dropped messages were not judged lost: %+v", rep.Invariants)
		}
		if th := threshold(rep); !th.OK {
			t.Fatalf("a stalled system counted as busy: %v", th)
		}
	})
}

// TestDeadLettersJudgedFromObservation: dead letters count from what
// edkit finds on the dead-letter topic; a handler that only says it
// dead-lettered a message breaks DLQ accounting.
func TestDeadLettersJudgedFromObservation(t *testing.T) {
	honest := runTally(t, tally{dlqEvery: 10}, true)
	r := result(t, honest, "dlq-accounting")
	if !r.Valid || !strings.Contains(r.Note, "+ 10 dead-lettered") {
		t.Fatalf("honest dead letters: %+v", r)
	}
	liar := runTally(t, tally{dlqEvery: 10, lieAboutDLQ: true}, true)
	if r := result(t, liar, "dlq-accounting"); r.Valid || r.Found != 10 {
		t.Fatalf("dead letters that never reached the DLQ were accepted: %+v", r)
	}
}

func result(t *testing.T, rep *reports.Run, invariant string) check.Result {
	t.Helper()
	for _, r := range rep.Invariants {
		if r.Invariant == invariant {
			return r
		}
	}
	t.Fatalf("no %s verdict in %+v", invariant, rep.Invariants)
	return check.Result{}
}

// TestRunEnvironmentError: a broker that cannot start is an EnvError
// (exit 3 in the CLI), not a failed run.
func TestRunEnvironmentError(t *testing.T) {
	_, err := harness.Run(t.Context(), tally{}, harness.Options{Broker: harness.Broker{Kind: "carrier-pigeon"}})
	var envErr *harness.EnvError
	if err == nil || !asEnv(err, &envErr) {
		t.Fatalf("err = %v, want an EnvError", err)
	}
}

func asEnv(err error, target **harness.EnvError) bool { return errors.As(err, target) }

// TestRunUnderANemesis: the echo system on embedded Kafka rides through a
// broker killed and restarted mid-load: every invariant holds, the fault
// is in the history and the report, and it was healed.
func TestRunUnderANemesis(t *testing.T) {
	out := t.TempDir()
	rep, err := harness.Run(t.Context(), echosystem.New(), harness.Options{
		Broker:  harness.Broker{Kind: harness.BrokerKafka, Partitions: 2},
		Load:    loadgen.Config{Rate: 100, Duration: 3 * time.Second, Workers: 4, Keys: 5, Seed: 1},
		Quiesce: 30 * time.Second, MinRate: 0.5, NoFault: true, Out: out, SampleEvery: 250 * time.Millisecond,
		Nemesis: func(broker env.Component) ([]chaos.Fault, chaos.Schedule, error) {
			kill, err := chaos.Kill(broker)
			return []chaos.Fault{kill}, chaos.Schedule{Intervals: []chaos.Interval{{Fault: 0, Start: time.Second, End: 1500 * time.Millisecond}}}, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("the run did not ride through a broker restart:\n%+v\n%+v", rep.Invariants, rep.Thresholds)
	}
	counts := map[string]int64{}
	for _, c := range rep.Counts {
		counts[c.Name] = c.Value
	}
	if counts["nemesis: faults injected"] != 1 || counts["nemesis: faults healed"] != 1 || counts["commands acked"] < 200 {
		t.Errorf("report counts: %v", counts)
	}
	f, err := history.OpenFile(filepath.Join(out, history.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var faults []string
	resubscribed := 0
	for f.Next() {
		switch op := f.Op(); op.F {
		case history.Fault:
			faults = append(faults, string(op.Type)+" "+op.Value)
		case history.Resubscribe:
			resubscribed++
		}
	}
	if resubscribed == 0 {
		t.Error("no consumer resubscribed: the kill broke nothing the run had to ride through")
	}
	if want := []string{"invoke kill kafka", "ok kill kafka"}; fmt.Sprint(faults) != fmt.Sprint(want) {
		t.Errorf("fault ops in the history: %v, want %v", faults, want)
	}
	if len(rep.Faults) != 1 || rep.Faults[0].Fault != "kill kafka" || rep.Faults[0].End-rep.Faults[0].Start < 400*time.Millisecond {
		t.Errorf("the report's fault timeline: %+v", rep.Faults)
	}
}

// TestRunSeries: a run's time series accounts for every operation, in
// samples at the interval asked, its latencies from the system's
// completions, its lag drained at the end.
func TestRunSeries(t *testing.T) {
	rep, err := harness.Run(t.Context(), tally{slow: 2 * time.Millisecond}, harness.Options{
		Broker:  harness.Broker{Kind: harness.BrokerMemory},
		Load:    loadgen.Config{Rate: 200, Duration: 2 * time.Second, Workers: 4, Keys: 5, Seed: 1},
		Quiesce: 5 * time.Second, MinRate: 0.5, NoFault: true, Out: t.TempDir(), SampleEvery: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var sent, ok, done uint64
	for _, s := range rep.Series {
		sent, ok, done = sent+s.Sent, ok+s.OK, done+s.Done
		if s.Done > 0 && (s.E2EP99 < 2*time.Millisecond || s.E2EMax < s.E2EP99) {
			t.Errorf("sample %+v: latencies below the handler's own 2 ms", s)
		}
	}
	if n := len(rep.Series); n < 9 || n > 20 {
		t.Errorf("%d samples for a 2 s load at 200 ms", n)
	}
	if sent != 400 || ok != 400 || done != 400 {
		t.Errorf("series totals sent=%d ok=%d done=%d, want 400 each", sent, ok, done)
	}
	if last := rep.Series[len(rep.Series)-1]; last.InFlight != 0 {
		t.Errorf("in flight at the end: %+v", last)
	}
	inFlight := 0
	for _, s := range rep.Series {
		inFlight = max(inFlight, s.InFlight)
	}
	if inFlight == 0 {
		t.Error("nothing was ever in flight: the lag is not measured")
	}
}

// TestRunOnLocalServers: the run core starts NATS and Redis servers of its
// own (the process provider), runs a system on them, and judges it clean;
// the system never knows which broker it got.
func TestRunOnLocalServers(t *testing.T) {
	for _, kind := range []string{harness.BrokerNATS, harness.BrokerRedis} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var broker string
			rep, err := harness.Run(t.Context(), tally{}, harness.Options{
				Broker:  harness.Broker{Kind: kind},
				Load:    loadgen.Config{Rate: 200, Duration: 500 * time.Millisecond, Workers: 4, Keys: 5, Seed: 1},
				Quiesce: 10 * time.Second, MinRate: 0.5, Out: t.TempDir(),
				OnStart: func(b string) { broker = b },
			})
			if err != nil {
				t.Fatal(err)
			}
			if broker != "process-"+kind {
				t.Errorf("broker %q, want process-%s", broker, kind)
			}
			if !rep.OK() {
				t.Fatalf("tally on %s failed: %+v", kind, rep.Invariants)
			}
		})
	}
}

// TestRunThroughAPartition: the echo system on embedded Kafka behind its
// proxy rides through the broker cut off from it for a while: the fault
// really cut it (the run's consumers resubscribed or its sends waited),
// and every invariant holds after the heal.
func TestRunThroughAPartition(t *testing.T) {
	rep, err := harness.Run(t.Context(), echosystem.New(), harness.Options{
		Broker:  harness.Broker{Kind: harness.BrokerKafka, Partitions: 2, Proxied: true},
		Load:    loadgen.Config{Rate: 100, Duration: 3 * time.Second, Workers: 8, Keys: 5, Seed: 1},
		Quiesce: 30 * time.Second, MinRate: 0.5, NoFault: true, Out: t.TempDir(), SampleEvery: 250 * time.Millisecond,
		Nemesis: func(broker env.Component) ([]chaos.Fault, chaos.Schedule, error) {
			cut, err := chaos.Partition(broker)
			return []chaos.Fault{cut}, chaos.Schedule{Intervals: []chaos.Interval{{Fault: 0, Start: time.Second, End: 2 * time.Second}}}, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("the run did not ride through a partition:\n%+v\n%+v", rep.Invariants, rep.Thresholds)
	}
	worst := time.Duration(0)
	for _, s := range rep.Series {
		worst = max(worst, s.E2EMax)
	}
	if worst < 500*time.Millisecond {
		t.Errorf("worst end-to-end latency %v: a 1 s partition left no mark", worst)
	}
	if len(rep.Faults) != 1 || rep.Faults[0].Fault != "partition kafka" {
		t.Errorf("faults %+v", rep.Faults)
	}
}
