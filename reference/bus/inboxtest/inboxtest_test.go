package inboxtest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/edkit-dev/edkit/reference/bus"
)

func TestMemoryInbox(t *testing.T) {
	Run(t, func(*testing.T) bus.Inbox { return bus.NewMemoryInbox() })
}

// broken inboxes, each with one bug the suite must find.

// racy checks and then claims without holding its lock across both, and
// waits at a barrier between them so that every racer reads the empty state:
// several Begins win.
type racy struct {
	*bus.MemoryInbox
	mu      sync.Mutex
	claimed map[string]bool
	barrier sync.WaitGroup
}

func (r *racy) Begin(ctx context.Context, group, id string) (bool, error) {
	r.mu.Lock()
	held := r.claimed[group+"/"+id]
	r.mu.Unlock()
	r.barrier.Done()
	r.barrier.Wait()
	if held {
		return false, bus.ErrInFlight
	}
	r.mu.Lock()
	r.claimed[group+"/"+id] = true
	r.mu.Unlock()
	return true, nil
}

// amnesiac forgets what was done: Done only releases the claim.
type amnesiac struct{ *bus.MemoryInbox }

func (a amnesiac) Done(ctx context.Context, group, id string) error {
	return a.Abort(ctx, group, id)
}

// joiner keys on group+id, so ("a", "bc") and ("ab", "c") collide.
type joiner struct{ in *bus.MemoryInbox }

func (j joiner) Begin(ctx context.Context, group, id string) (bool, error) {
	return j.in.Begin(ctx, "", group+id)
}
func (j joiner) Done(ctx context.Context, group, id string) error {
	return j.in.Done(ctx, "", group+id)
}
func (j joiner) Abort(ctx context.Context, group, id string) error {
	return j.in.Abort(ctx, "", group+id)
}

// stuck never releases a claim on Abort.
type stuck struct{ *bus.MemoryInbox }

func (stuck) Abort(context.Context, string, string) error { return nil }

// TestSuiteCatchesBrokenInboxes: each broken inbox fails the case that
// owns its bug, so the suite can fail.
func TestSuiteCatchesBrokenInboxes(t *testing.T) {
	for _, c := range []struct {
		name  string
		inbox bus.Inbox
		cases []func(context.Context, bus.Inbox) error
	}{
		{"forgets done", amnesiac{bus.NewMemoryInbox()}, []func(context.Context, bus.Inbox) error{claimDone, doneWithoutBegin, dedup}},
		{"joins group and id", joiner{bus.NewMemoryInbox()}, []func(context.Context, bus.Inbox) error{keyBoundaries}},
		{"abort keeps the claim", stuck{bus.NewMemoryInbox()}, []func(context.Context, bus.Inbox) error{abort}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i, fn := range c.cases {
				if err := fn(t.Context(), c.inbox); err == nil {
					t.Errorf("case %d passed a broken inbox", i)
				}
			}
		})
	}
	t.Run("racy begin", func(t *testing.T) {
		const racers = 8
		in := &racy{MemoryInbox: bus.NewMemoryInbox(), claimed: map[string]bool{}}
		in.barrier.Add(racers)
		err := OneWinner(t.Context(), in, "g", "m", racers)
		if !errors.Is(err, ErrNotOneWinner) {
			t.Fatalf("OneWinner on a racy inbox = %v, want ErrNotOneWinner", err)
		}
	})
}
