package chaos_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/harness/record"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

type runOptions struct {
	keys    int
	consume []bus.ConsumeOption
}

type runOption func(*runOptions)

// keysAndWorkers spreads the messages over keys and consumes with workers.
func keysAndWorkers(keys, workers int) runOption {
	return func(o *runOptions) { o.keys, o.consume = keys, []bus.ConsumeOption{bus.Concurrency(workers)} }
}

// recordedRun publishes n messages of one key through a recorded membus and
// consumes them with the fault outside the recording middleware, as
// cmd/edload wires it. It returns the history once everything is handled.
func recordedRun(t *testing.T, cfg chaos.MessageFaultConfig, n int, opts ...runOption) (*chaos.MessageFault, []history.Op) {
	t.Helper()
	ro := runOptions{keys: 1}
	for _, o := range opts {
		o(&ro)
	}
	cfg.MaxHold = time.Hour // held deliveries are released by shutdown below
	f := newFault(t, cfg, clock.NewVirtual(time.Unix(0, 0)))
	rec := history.NewRecorder(clock.Real{})
	mb := membus.New()
	t.Cleanup(func() { _ = mb.Close() })
	rb := record.NewBus(mb, rec, "loadgen")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h := bus.Chain(func(context.Context, *bus.Message) error { return nil }, f.Middleware("g"), record.Consumer(rec, "g"))
	done := make(chan error, 1)
	go func() { done <- bus.Consume(ctx, mb, "t", "g", h, ro.consume...) }()
	for i := range n {
		if err := rb.Publish(ctx, &bus.Message{ID: fmt.Sprintf("m-%d", i), Topic: "t", Key: fmt.Sprintf("k%d", i%ro.keys)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if lag, ok := mb.Lag("t")["g"]; ok && lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag %v after a minute", mb.Lag("t"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.Wait()
	return f, rec.Ops()
}

func TestLossCheckerSeesDrops(t *testing.T) {
	loss := check.NewLoss(check.LossOptions{Groups: map[string][]string{"t": {"g"}}, MaxAnomalies: 1000})

	_, clean := recordedRun(t, chaos.MessageFaultConfig{Seed: 1}, 100)
	if r := loss.Check(clean); !r.Valid || len(r.Anomalies) != 0 {
		t.Fatalf("clean run judged %+v", r)
	}

	f, ops := recordedRun(t, chaos.MessageFaultConfig{Seed: 1, Drop: 0.1}, 100)
	r := loss.Check(ops)
	drops := f.Count(chaos.KindDrop)
	if drops == 0 || r.Valid || len(r.Anomalies) != drops {
		t.Fatalf("%d drops, loss checker valid=%v with %d anomalies", drops, r.Valid, len(r.Anomalies))
	}
	for i, e := range f.Journal() {
		if !strings.Contains(r.Anomalies[i].Summary, "message "+e.MsgID+" ") {
			t.Errorf("anomaly %q does not name dropped %s", r.Anomalies[i].Summary, e.MsgID)
		}
	}
}

func TestOrderCheckerSeesReorders(t *testing.T) {
	order := check.NewOrder(check.OrderOptions{MaxAnomalies: 1000})

	_, clean := recordedRun(t, chaos.MessageFaultConfig{Seed: 2}, 100)
	if r := order.Check(clean); !r.Valid {
		t.Fatalf("clean run judged %+v", r)
	}

	f, ops := recordedRun(t, chaos.MessageFaultConfig{Seed: 2, Reorder: 0.2}, 100)
	r := order.Check(ops)
	held := f.Count(chaos.KindReorder)
	// Every held delivery is handled after its successor, except one held
	// last of all (nothing follows it, so shutdown releases it in place).
	if held == 0 || r.Valid || len(r.Anomalies) < held-1 || len(r.Anomalies) > held {
		t.Fatalf("%d reorders, order checker valid=%v with %d anomalies", held, r.Valid, len(r.Anomalies))
	}
	if lost := check.NewLoss(check.LossOptions{Groups: map[string][]string{"t": {"g"}}}).Check(ops); !lost.Valid {
		t.Fatalf("reorder lost messages: %+v", lost.Anomalies)
	}
}

// TestReorderWithConcurrentWorkers runs every kind but delay with four
// workers over eight keys: nothing deadlocks, and every message not dropped
// is acked exactly once.
func TestReorderWithConcurrentWorkers(t *testing.T) {
	f, ops := recordedRun(t, chaos.MessageFaultConfig{Seed: 4, Reorder: 0.3, Drop: 0.05, Corrupt: 0.1}, 400, keysAndWorkers(8, 4))
	r := check.NewLoss(check.LossOptions{Groups: map[string][]string{"t": {"g"}}, MaxAnomalies: 1000}).Check(ops)
	if f.Count(chaos.KindReorder) == 0 || len(r.Anomalies) != f.Count(chaos.KindDrop) {
		t.Fatalf("%d reorders, %d drops, %d lost", f.Count(chaos.KindReorder), f.Count(chaos.KindDrop), len(r.Anomalies))
	}
	acks := map[string]int{}
	for _, op := range ops {
		if op.F == history.Ack {
			acks[op.MsgID]++
		}
	}
	for id, n := range acks {
		if n != 1 {
			t.Fatalf("%s acked %d times", id, n)
		}
	}
	if len(acks)+f.Count(chaos.KindDrop) != 400 {
		t.Fatalf("%d acked + %d dropped != 400", len(acks), f.Count(chaos.KindDrop))
	}
	if res := check.NewOrder(check.OrderOptions{}).Check(ops); res.Valid {
		t.Fatal("reorders under concurrency went unseen by the order checker")
	}
}
