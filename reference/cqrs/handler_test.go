package cqrs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edkit-dev/edkit/reference/cqrs"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
)

// counted wraps accountDecider and counts Decide calls, to prove duplicates
// are not decided again.
func counted(calls *atomic.Int64) cqrs.Decider[account, any] {
	d := accountDecider
	decide := d.Decide
	d.Decide = func(a account, cmd any) ([]event.Envelope, error) {
		calls.Add(1)
		return decide(a, cmd)
	}
	return d
}

// correlatedDeposit carries a correlation ID from an outer flow.
type correlatedDeposit struct {
	deposit
	correlation string
}

func (c correlatedDeposit) CorrelationID() string { return c.correlation }

// twoEvents decides two events per command, to check per-event IDs.
type twoEvents struct{}

func newStore(t *testing.T) *memstore.Store {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestHandleIdempotent(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	var calls atomic.Int64
	h := cqrs.NewHandler(store, counted(&calls))

	first, err := h.Handle(ctx, "acc", "c1", deposit{amount: 10})
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || first.Version != 1 || first.Position != 1 || len(first.Events) != 1 {
		t.Fatalf("first result %+v", first)
	}
	e := first.Events[0]
	if e.ID != "c1/0" || e.Stream != "acc" || e.Version != 1 ||
		e.Metadata[cqrs.MetaCommandID] != "c1" || e.Metadata[event.MetaCausationID] != "c1" || e.Metadata[event.MetaCorrelationID] != "c1" {
		t.Fatalf("first event not stamped: %+v", e)
	}
	if _, err := h.Handle(ctx, "acc", "c2", deposit{amount: 5}); err != nil {
		t.Fatal(err)
	}
	again, err := h.Handle(ctx, "acc", "c1", deposit{amount: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.Version != 1 || again.Position != 1 || len(again.Events) != 1 || again.Events[0].ID != "c1/0" {
		t.Fatalf("redelivery result %+v, want the first command's stored event", again)
	}
	if calls.Load() != 2 {
		t.Fatalf("Decide called %d times, want 2 (the duplicate is not decided)", calls.Load())
	}
	state, version, err := h.Repository().Load(ctx, "acc")
	if err != nil {
		t.Fatal(err)
	}
	if state.balance != 15 || version != 2 {
		t.Fatalf("state %+v at version %d, want balance 15 at version 2", state, version)
	}
}

func TestHandleStamps(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	d := accountDecider
	decide := d.Decide
	d.Decide = func(a account, cmd any) ([]event.Envelope, error) {
		if _, ok := cmd.(twoEvents); ok {
			e1, _ := event.New("ignored", "Deposited", "", map[string]int{"Amount": 1})
			e2, _ := event.New("ignored", "Deposited", "", map[string]int{"Amount": 2})
			e2.Metadata = map[string]string{"extra": "kept"}
			return []event.Envelope{e1, e2}, nil
		}
		if c, ok := cmd.(correlatedDeposit); ok {
			return decide(a, c.deposit)
		}
		return decide(a, cmd)
	}
	h := cqrs.NewHandler(store, d)
	tests := []struct {
		name        string
		commandID   string
		cmd         any
		ids         []string
		correlation string
	}{
		{"correlated", "c1", correlatedDeposit{deposit{1}, "saga-9"}, []string{"c1/0"}, "saga-9"},
		{"two-events", "c2", twoEvents{}, []string{"c2/0", "c2/1"}, "c2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := h.Handle(ctx, "acc", tc.commandID, tc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := store.ReadStream(ctx, "acc", r.Version-uint64(len(tc.ids))+1, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(stored) != len(tc.ids) {
				t.Fatalf("stored %d events, want %d", len(stored), len(tc.ids))
			}
			for i, e := range stored {
				if e.ID != tc.ids[i] || r.Events[i].ID != tc.ids[i] || r.Events[i].Version != e.Version {
					t.Fatalf("event %d: stored %s v%d, result %s v%d, want %s", i, e.ID, e.Version, r.Events[i].ID, r.Events[i].Version, tc.ids[i])
				}
				if e.Metadata[event.MetaCorrelationID] != tc.correlation || e.Metadata[event.MetaCausationID] != tc.commandID {
					t.Fatalf("event %d metadata %v", i, e.Metadata)
				}
			}
			if tc.name == "two-events" && stored[1].Metadata["extra"] != "kept" {
				t.Fatalf("Decide's own metadata dropped: %v", stored[1].Metadata)
			}
		})
	}
}

func TestHandleRejections(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	h := cqrs.NewHandler(store, accountDecider)
	if _, err := h.Handle(ctx, "acc", "c1", deposit{amount: 10}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		stream    string
		commandID string
		cmd       any
		want      error
	}{
		{"domain", "acc", "c2", withdraw{amount: 11}, errOverdrawn},
		{"no-command-id", "acc", "", deposit{amount: 1}, cqrs.ErrNoCommandID},
		{"no-stream", "", "c3", deposit{amount: 1}, cqrs.ErrEmptyStream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Handle(ctx, tc.stream, tc.commandID, tc.cmd)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if store.Version("acc") != 1 {
				t.Fatalf("a rejected command wrote: version %d", store.Version("acc"))
			}
		})
	}
	// A rejected command ID is not burnt: it may succeed later.
	if _, err := h.Handle(ctx, "acc", "c2", withdraw{amount: 10}); err != nil {
		t.Fatalf("retry of the rejected command after the state changed: %v", err)
	}
}

// TestHandleConcurrent dispatches many commands to one stream at once: every
// command lands exactly once and versions stay contiguous.
func TestHandleConcurrent(t *testing.T) {
	const workers, each = 8, 15
	ctx := context.Background()
	store := newStore(t)
	h := cqrs.NewHandler(store, accountDecider, cqrs.WithMaxRetries(workers*each))
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				// Each command is delivered twice, as at-least-once transports do.
				for range 2 {
					if _, err := h.Handle(ctx, "acc", id, deposit{amount: 1}); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	events, err := store.ReadStream(ctx, "acc", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != workers*each {
		t.Fatalf("stream has %d events, want %d", len(events), workers*each)
	}
	seen := make(map[string]bool)
	for i, e := range events {
		if e.Version != uint64(i)+1 {
			t.Fatalf("version %d at index %d", e.Version, i)
		}
		cmd := e.Metadata[cqrs.MetaCommandID]
		if seen[cmd] {
			t.Fatalf("command %s applied twice", cmd)
		}
		seen[cmd] = true
	}
	state, _, err := h.Repository().Load(ctx, "acc")
	if err != nil || state.balance != workers*each {
		t.Fatalf("balance %d, %v; want %d", state.balance, err, workers*each)
	}
}

// racingStore lets another writer slip an event into the stream before each
// of the first `races` appends, so the handler's expected version is stale.
type racingStore struct {
	eventstore.Store
	races atomic.Int64
	n     atomic.Int64
}

func (r *racingStore) Append(ctx context.Context, stream string, exp eventstore.ExpectedVersion, events ...event.Envelope) (eventstore.AppendResult, error) {
	if r.races.Add(-1) >= 0 {
		e, _ := event.New(fmt.Sprintf("intruder-%d", r.n.Add(1)), "Deposited", stream, map[string]int{"Amount": 1})
		if _, err := r.Store.Append(ctx, stream, eventstore.Any, e); err != nil {
			return eventstore.AppendResult{}, err
		}
	}
	return r.Store.Append(ctx, stream, exp, events...)
}

func TestHandleRetries(t *testing.T) {
	tests := []struct {
		name       string
		races      int64
		maxRetries int
		exhausted  bool
	}{
		{"no-race", 0, 0, false},
		{"wins-on-last-retry", 3, 3, false},
		{"exhausted", 4, 3, true},
		{"no-retries", 1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			mem := newStore(t)
			store := &racingStore{Store: mem}
			store.races.Store(tc.races)
			var calls atomic.Int64
			h := cqrs.NewHandler(store, counted(&calls), cqrs.WithMaxRetries(tc.maxRetries))
			r, err := h.Handle(ctx, "acc", "c1", deposit{amount: 10})
			if !tc.exhausted {
				if err != nil {
					t.Fatal(err)
				}
				if want := uint64(tc.races) + 1; r.Version != want || mem.Version("acc") != want {
					t.Fatalf("version %d (store %d), want %d", r.Version, mem.Version("acc"), want)
				}
				if calls.Load() != tc.races+1 {
					t.Fatalf("decided %d times, want %d", calls.Load(), tc.races+1)
				}
				return
			}
			var re *cqrs.RetriesExhaustedError
			if !errors.As(err, &re) || !errors.Is(err, cqrs.ErrRetriesExhausted) || !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
				t.Fatalf("err = %v, want *RetriesExhaustedError wrapping a concurrency error", err)
			}
			if re.Attempts != tc.maxRetries+1 || re.Stream != "acc" || re.CommandID != "c1" {
				t.Fatalf("error %+v", re)
			}
			events, _ := mem.ReadStream(ctx, "acc", 1, 0)
			for _, e := range events {
				if e.Metadata[cqrs.MetaCommandID] == "c1" {
					t.Fatalf("an exhausted command wrote %s", e.ID)
				}
			}
		})
	}
}
