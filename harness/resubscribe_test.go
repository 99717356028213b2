package harness

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

// flaky ends every subscription after `after` deliveries, as a backend
// does whose broker went away, and refuses the first `refuse`
// resubscriptions.
type flaky struct {
	bus.Bus
	after  int
	refuse atomic.Int32
	subs   atomic.Int32
}

func (f *flaky) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	if f.subs.Add(1) > 1 && f.refuse.Add(-1) >= 0 {
		return nil, fmt.Errorf("connection refused")
	}
	sctx, cancel := context.WithCancel(ctx)
	in, err := f.Bus.Subscribe(sctx, topic, group)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan bus.Delivery)
	go func() {
		defer close(out)
		defer cancel()
		for n := 0; n < f.after; n++ {
			select {
			case d, ok := <-in:
				if !ok {
					return
				}
				out <- d
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// TestResubscribeRidesThroughEndedSubscriptions: every message arrives
// although each subscription ends after three deliveries and the first
// resubscription is refused; each attempt is in the history.
func TestResubscribeRidesThroughEndedSubscriptions(t *testing.T) {
	mem := membus.New()
	t.Cleanup(func() { _ = mem.Close() })
	f := &flaky{Bus: mem, after: 3}
	f.refuse.Store(1)
	rec := history.NewRecorder(clock.Real{})
	r := newResubscribing(f, rec)
	r.min, r.max = time.Millisecond, 10*time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ch, err := r.Subscribe(ctx, "t", "g")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := mem.Publish(ctx, &bus.Message{ID: fmt.Sprint("m", i), Topic: "t", Key: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < 10 {
		select {
		case d := <-ch:
			seen[d.Message().ID] = true
			// A delivery whose subscription ended is revoked and comes
			// again on the next one: at-least-once across the restart.
			_ = d.Ack(ctx)
		case <-ctx.Done():
			t.Fatalf("got %d of 10 messages across ended subscriptions", len(seen))
		}
	}
	var ok, failed int
	for _, op := range rec.Ops() {
		if op.F == history.Resubscribe {
			switch op.Type {
			case history.OK:
				ok++
			case history.Fail:
				failed++
			}
		}
	}
	if ok < 3 || failed != 1 {
		t.Fatalf("recorded %d resubscriptions and %d failed attempts, want >= 3 and 1", ok, failed)
	}
	cancel()
	for range ch { // closes once ctx ends
	}
}

// TestResubscribeStopsWhenTheBusCloses: a closed bus ends the
// subscription instead of retrying forever.
func TestResubscribeStopsWhenTheBusCloses(t *testing.T) {
	mem := membus.New()
	r := newResubscribing(mem, history.NewRecorder(clock.Real{}))
	r.min, r.max = time.Millisecond, time.Millisecond
	ch, err := r.Subscribe(t.Context(), "t", "g")
	if err != nil {
		t.Fatal(err)
	}
	_ = mem.Close()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still open 5s after the bus closed")
	}
}
