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

// recordedRun publishes n messages of one key through a recorded membus and
// consumes them with the fault outside the recording middleware, as
// cmd/edload wires it. It returns the history once everything is handled.
func recordedRun(t *testing.T, cfg chaos.MessageFaultConfig, n int) (*chaos.MessageFault, []history.Op) {
	t.Helper()
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
	go func() { done <- bus.Consume(ctx, mb, "t", "g", h) }()
	for i := range n {
		if err := rb.Publish(ctx, &bus.Message{ID: fmt.Sprintf("m-%d", i), Topic: "t", Key: "k"}); err != nil {
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
