package cqrs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/edkit-dev/edkit/reference/cqrs"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// accountSnapshots encodes account's unexported balance by hand.
func accountSnapshots(every uint64, schema int) cqrs.SnapshotPolicy[account] {
	return cqrs.SnapshotPolicy[account]{
		Every: every, Type: "account", SchemaVersion: schema,
		Encode: func(a account) ([]byte, error) { return json.Marshal(a.balance) },
		Decode: func(b []byte) (account, error) {
			var a account
			err := json.Unmarshal(b, &a.balance)
			return a, err
		},
	}
}

// evolveCounting counts Evolve calls, to prove a load starts at the snapshot.
func evolveCounting(n *atomic.Int64) cqrs.Decider[account, any] {
	d := accountDecider
	evolve := d.Evolve
	d.Evolve = func(a account, e event.Envelope) (account, error) {
		n.Add(1)
		return evolve(a, e)
	}
	return d
}

func TestSnapshotsSavedAndUsed(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	var evolves atomic.Int64
	h := cqrs.NewHandler(store, evolveCounting(&evolves))
	if err := h.Repository().UseSnapshots(accountSnapshots(3, 1)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 7; i++ {
		if _, err := h.Handle(ctx, "acc", fmt.Sprintf("c%d", i), deposit{amount: 10}); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := store.LoadSnapshot(ctx, "acc")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != 6 || string(snap.Data) != "60" || snap.Type != "account" {
		t.Fatalf("latest snapshot %+v, want version 6 with balance 60", snap)
	}
	evolves.Store(0)
	state, version, err := h.Repository().Load(ctx, "acc")
	if err != nil || state.balance != 70 || version != 7 {
		t.Fatalf("load: %+v v%d %v, want balance 70 at version 7", state, version, err)
	}
	if n := evolves.Load(); n != 1 {
		t.Fatalf("load evolved %d events, want 1 (only the one after the snapshot)", n)
	}

	// A redelivered command handled after the snapshot is still recognised.
	res, err := h.Handle(ctx, "acc", "c7", deposit{amount: 10})
	if err != nil || !res.Duplicate {
		t.Fatalf("redelivered c7: %+v %v, want a duplicate", res, err)
	}
	// One handled before it is refused by the store, never written twice.
	if _, err := h.Handle(ctx, "acc", "c1", deposit{amount: 10}); err == nil {
		t.Fatal("redelivered c1 (older than the snapshot) was accepted")
	}
	if state, version, _ := h.Repository().Load(ctx, "acc"); state.balance != 70 || version != 7 {
		t.Fatalf("after redeliveries: balance %d at version %d, want 70 at 7", state.balance, version)
	}
}

func TestSnapshotOfAnotherSchemaIgnored(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	old := cqrs.NewHandler(store, accountDecider)
	if err := old.Repository().UseSnapshots(accountSnapshots(1, 1)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if _, err := old.Handle(ctx, "acc", fmt.Sprintf("c%d", i), deposit{amount: 5}); err != nil {
			t.Fatal(err)
		}
	}
	var evolves atomic.Int64
	r := cqrs.NewRepository(store, accountDecider.Initial, evolveCounting(&evolves).Evolve)
	if err := r.UseSnapshots(accountSnapshots(1, 2)); err != nil {
		t.Fatal(err)
	}
	state, version, err := r.Load(ctx, "acc")
	if err != nil || state.balance != 10 || version != 2 || evolves.Load() != 2 {
		t.Fatalf("load with a schema-1 snapshot under schema 2: %+v v%d %v after %d evolves, want a full fold (10 at v2, 2 evolves)", state, version, err, evolves.Load())
	}
}

func TestHiddenEventsRefused(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	h := cqrs.NewHandler(store, accountDecider)
	for i := 1; i <= 4; i++ {
		if _, err := h.Handle(ctx, "acc", fmt.Sprintf("c%d", i), deposit{amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SetStreamMetadata(ctx, "acc", eventstore.StreamMetadata{MaxCount: 2}); err != nil {
		t.Fatal(err)
	}
	var hidden *cqrs.HiddenEventsError
	if _, _, err := h.Repository().Load(ctx, "acc"); !errors.As(err, &hidden) || hidden.Want != 1 || hidden.First != 3 {
		t.Fatalf("load of a truncated stream without a snapshot: %v, want *HiddenEventsError 1..2", err)
	}

	// With a snapshot covering the hidden events the stream loads.
	if err := store.SaveSnapshot(ctx, eventstore.Snapshot{Stream: "acc", Version: 3, Type: "account", SchemaVersion: 1, Data: json.RawMessage("3")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Repository().UseSnapshots(accountSnapshots(100, 1)); err != nil {
		t.Fatal(err)
	}
	state, version, err := h.Repository().Load(ctx, "acc")
	if err != nil || state.balance != 4 || version != 4 {
		t.Fatalf("load from snapshot over a truncated stream: %+v v%d %v, want 4 at v4", state, version, err)
	}
}

func TestUseSnapshotsRejects(t *testing.T) {
	r := cqrs.NewRepository(newStore(t), accountDecider.Initial, accountDecider.Evolve)
	if err := r.UseSnapshots(cqrs.SnapshotPolicy[account]{Type: "account"}); err == nil {
		t.Fatal("Every 0 accepted")
	}
	if err := r.UseSnapshots(cqrs.SnapshotPolicy[account]{Every: 1}); err == nil {
		t.Fatal("empty Type accepted")
	}
}
