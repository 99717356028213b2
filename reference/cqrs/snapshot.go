package cqrs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// SnapshotPolicy makes a Repository load from the stream's latest snapshot
// and makes a Handler save one every Every events, so loading a long stream
// costs a snapshot read and the events after it.
//
// A snapshot is only a cache of the fold: one that is missing, written with
// another SchemaVersion, or that does not decode is ignored and the stream
// is folded from the start. Saving is best effort for the same reason; its
// errors go to OnError.
//
// Duplicate commands: the Handler recognises a redelivered command by the
// events it finds while folding, and with a snapshot it folds only the
// events after it. A command handled before the snapshot is therefore
// decided again; if that decision writes events, their IDs (command ID and
// index) are already stored, so the store refuses the append (a concurrency
// or idempotency-conflict error) and nothing is written twice. Choose Every
// well above how many events a stream gets within a redelivery window to
// keep such refusals rare.
type SnapshotPolicy[S any] struct {
	// Every is how many events after the last snapshot trigger a new one
	// (> 0).
	Every uint64
	// Type and SchemaVersion name the state's encoding. A stored snapshot
	// of another type or schema version is ignored.
	Type          string
	SchemaVersion int
	// Encode and Decode default to encoding/json of S.
	Encode func(S) ([]byte, error)
	Decode func([]byte) (S, error)
	// OnError, when set, receives errors saving a snapshot.
	OnError func(stream string, err error)
}

// UseSnapshots turns snapshots on. Call it before the repository (or the
// Handler that owns it) is used.
func (r *Repository[S]) UseSnapshots(p SnapshotPolicy[S]) error {
	if p.Every == 0 {
		return errors.New("cqrs: snapshot policy: Every must be > 0")
	}
	if p.Type == "" {
		return errors.New("cqrs: snapshot policy: empty Type")
	}
	if p.Encode == nil {
		p.Encode = func(s S) ([]byte, error) { return json.Marshal(s) }
	}
	if p.Decode == nil {
		p.Decode = func(b []byte) (S, error) {
			var s S
			err := json.Unmarshal(b, &s)
			return s, err
		}
	}
	r.snap = &p
	return nil
}

// load returns the state and version of the stream's usable snapshot; ok
// is false when there is none.
func (p *SnapshotPolicy[S]) load(ctx context.Context, store eventstore.Store, stream string) (S, uint64, bool, error) {
	var zero S
	snap, err := store.LoadSnapshot(ctx, stream)
	if errors.Is(err, eventstore.ErrSnapshotNotFound) {
		return zero, 0, false, nil
	}
	if err != nil {
		return zero, 0, false, fmt.Errorf("cqrs: load snapshot of %s: %w", stream, err)
	}
	if snap.Type != p.Type || snap.SchemaVersion != p.SchemaVersion {
		return zero, 0, false, nil
	}
	state, err := p.Decode(snap.Data)
	if err != nil {
		return zero, 0, false, nil //nolint:nilerr // an undecodable snapshot is ignored: the fold rebuilds the state
	}
	return state, snap.Version, true, nil
}

// maybeSnapshot saves the state after a command's events when Every events
// have passed since the snapshot the load started from.
func (r *Repository[S]) maybeSnapshot(ctx context.Context, stream string, state S, since uint64, events []event.Envelope) {
	p := r.snap
	if p == nil || len(events) == 0 {
		return
	}
	last := events[len(events)-1].Version
	if last-since < p.Every {
		return
	}
	fail := func(err error) {
		if p.OnError != nil {
			p.OnError(stream, err)
		}
	}
	var err error
	for _, e := range events {
		if state, err = r.evolve(state, e); err != nil {
			fail(fmt.Errorf("cqrs: snapshot %s: evolve version %d: %w", stream, e.Version, err))
			return
		}
	}
	data, err := p.Encode(state)
	if err != nil {
		fail(fmt.Errorf("cqrs: snapshot %s: encode: %w", stream, err))
		return
	}
	snap := eventstore.Snapshot{Stream: stream, Version: last, Type: p.Type, SchemaVersion: p.SchemaVersion, Data: data}
	if err := r.store.SaveSnapshot(ctx, snap); err != nil {
		fail(fmt.Errorf("cqrs: snapshot %s: %w", stream, err))
	}
}
