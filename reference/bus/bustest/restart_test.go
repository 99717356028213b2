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
	return c.f.mem.Subscribe(ctx, topic, group)
}
func (c *client) Close() error {
	err := bus.ErrClosed
	c.once.Do(func() { err = nil })
	return err
}

func TestRunRestartDetects(t *testing.T) {
	tests := []struct {
		name      string
		misbehave func(n int64, down bool) (bool, error)
		check     func(t *testing.T, r bustest.RestartReport)
	}{
		{"correct backend", nil, func(t *testing.T, r bustest.RestartReport) {
			t.Helper()
			if err := r.Err(); err != nil || r.Maybe == 0 || r.MaybeDelivered != 0 {
				t.Fatalf("err %v, report %s; want no error and undelivered maybes", err, r)
			}
		}},
		{"acked but lost", func(n int64, down bool) (bool, error) {
			return n%7 != 0, nil // every 7th "confirmed" write vanishes
		}, func(t *testing.T, r bustest.RestartReport) {
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
		}, func(t *testing.T, r bustest.RestartReport) {
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
		}, func(t *testing.T, r bustest.RestartReport) {
			t.Helper()
			if r.Err() != nil || r.MaybeDelivered == 0 {
				t.Fatalf("report %s, err %v; want delivered maybes and no error", r, r.Err())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBroker{mem: membus.New(), misbehave: tt.misbehave}
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
				Publishers: 4, BeforeKill: 50, AfterRestart: 50,
				Quiet: 200 * time.Millisecond, GiveUp: time.Second, Timeout: 30 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(r)
			tt.check(t, r)
		})
	}
}
