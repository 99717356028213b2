package bustest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

// fakeBroker is a membus behind a switch: Kill makes publishes fail, and
// misbehave decides, per publish while or after the broker was down, what
// a faulty backend would do.
type fakeBroker struct {
	mem    *membus.Bus
	killed atomic.Bool // killed at least once
	down   atomic.Bool
	n      atomic.Int64
	// misbehave returns (store, err) for a publish made after the kill;
	// nil: a correct backend.
	misbehave func(n int64, down bool) (bool, error)
	// redeliver is how many extra times each delivery is handed out: a
	// backend that redelivers without bound.
	redeliver int
}

var errDown = errors.New("connection refused")

func (f *fakeBroker) publish(ctx context.Context, msgs ...*bus.Message) error {
	down := f.down.Load()
	if f.killed.Load() && f.misbehave != nil {
		store, err := f.misbehave(f.n.Add(1), down)
		if store {
			if perr := f.mem.Publish(ctx, msgs...); perr != nil {
				return perr
			}
		}
		return err
	}
	if down {
		return fmt.Errorf("fake: %w: %w", bus.ErrOutcomeUnknown, errDown)
	}
	return f.mem.Publish(ctx, msgs...)
}

// client is one bus over the fake broker; closing it leaves the broker.
type client struct {
	f    *fakeBroker
	once sync.Once
}

func (c *client) Publish(ctx context.Context, msgs ...*bus.Message) error {
	return c.f.publish(ctx, msgs...)
}
func (c *client) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	in, err := c.f.mem.Subscribe(ctx, topic, group)
	if err != nil || c.f.redeliver == 0 {
		return in, err
	}
	out := make(chan bus.Delivery)
	go func() {
		defer close(out)
		for d := range in {
			for range c.f.redeliver {
				select {
				case out <- again{d.Message()}:
				case <-ctx.Done():
					return
				}
			}
			select {
			case out <- d:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// again is an extra hand-out of a message; settling it does nothing.
type again struct{ m *bus.Message }

func (a again) Message() *bus.Message          { return a.m }
func (again) Ack(context.Context) error        { return nil }
func (again) Nack(context.Context, bool) error { return nil }
func (c *client) Close() error {
	err := bus.ErrClosed
	c.once.Do(func() { err = nil })
	return err
}

func TestRunRestartDetects(t *testing.T) {
	tests := []struct {
		name      string
		misbehave func(n int64, down bool) (bool, error)
		redeliver int
		check     func(t *testing.T, r bustest.RestartReport)
	}{
		{"correct backend", nil, 0, func(t *testing.T, r bustest.RestartReport) {
			t.Helper()
			if err := r.Err(); err != nil || r.Maybe == 0 || r.MaybeDelivered != 0 {
				t.Fatalf("err %v, report %s; want no error and undelivered maybes", err, r)
			}
		}},
		{"acked but lost", func(n int64, down bool) (bool, error) {
			return n%7 != 0, nil // every 7th "confirmed" write vanishes
		}, 0, func(t *testing.T, r bustest.RestartReport) {
			t.Helper()
			if len(r.Lost) == 0 || r.Err() == nil {
				t.Fatalf("report %s, err %v; want losses reported", r, r.Err())
			}
		}},
		{"refused yet stored", func(_ int64, down bool) (bool, error) {
			if down {
				return true, errDown // stored, but reported as refused
			}
			return true, nil
		}, 0, func(t *testing.T, r bustest.RestartReport) {
			t.Helper()
			if len(r.RefusedDelivered) == 0 || r.Err() == nil {
				t.Fatalf("report %s, err %v; want misreported outcomes", r, r.Err())
			}
		}},
		{"unknown and stored is allowed", func(_ int64, down bool) (bool, error) {
			if down {
				return true, fmt.Errorf("fake: %w", bus.ErrOutcomeUnknown)
			}
			return true, nil
		}, 0, func(t *testing.T, r bustest.RestartReport) {
			t.Helper()
			if r.Err() != nil || r.MaybeDelivered == 0 {
				t.Fatalf("report %s, err %v; want delivered maybes and no error", r, r.Err())
			}
		}},
		{"redelivering without bound", nil, 1, func(t *testing.T, r bustest.RestartReport) {
			t.Helper()
			if r.Duplicates <= r.DuplicateLimit || r.Err() == nil {
				t.Fatalf("report %s, err %v; want too many duplicates reported", r, r.Err())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBroker{mem: membus.New(), misbehave: tt.misbehave, redeliver: tt.redeliver}
			t.Cleanup(func() { _ = f.mem.Close() })
			r, err := bustest.RunRestart(t, bustest.RestartConfig{
				NewBus: func(*testing.T) bus.Bus { return &client{f: f} },
				Kill: func(context.Context) error {
					f.killed.Store(true)
					f.down.Store(true)
					return nil
				},
				Restart: func(context.Context) error {
					f.down.Store(false)
					return nil
				},
				Topic:      "t",
				Publishers: 4, PerPhase: 50, Members: 2,
				Quiet: 200 * time.Millisecond, ReadWindow: time.Second, Timeout: 30 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(r)
			tt.check(t, r)
		})
	}
}
