package cqrs

import (
	"context"
	"errors"
	"fmt"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// loadPage is how many events a load reads per call, so a long stream is
// folded without holding it all in memory.
const loadPage = 512

// Decider is an aggregate as three pure functions, so it can be tested
// without a store and reused by any repository.
type Decider[S any, C any] struct {
	// Initial is the state of a stream with no events.
	Initial func() S
	// Evolve applies one stored event to the state.
	Evolve func(S, event.Envelope) (S, error)
	// Decide turns a command into new events, or rejects it with a domain
	// error. It sets Type, Data and any extra Metadata; the Handler sets ID,
	// Stream and the command, correlation and causation metadata.
	Decide func(S, C) ([]event.Envelope, error)
}

// Repository loads aggregate state by folding a stream with Evolve, from
// the stream's latest snapshot when snapshots are on.
type Repository[S any] struct {
	store   eventstore.Store
	initial func() S
	evolve  func(S, event.Envelope) (S, error)
	snap    *SnapshotPolicy[S]
}

// NewRepository returns a repository over store for the state that initial
// and evolve define.
func NewRepository[S any](store eventstore.Store, initial func() S, evolve func(S, event.Envelope) (S, error)) *Repository[S] {
	return &Repository[S]{store: store, initial: initial, evolve: evolve}
}

// Load folds stream into state and returns it with the stream's version. A
// stream that does not exist yet (or was soft-deleted) loads as the initial
// state at version 0.
func (r *Repository[S]) Load(ctx context.Context, stream string) (S, uint64, error) {
	l, err := r.load(ctx, stream, "")
	return l.state, l.version, err
}

// loaded is what load found.
type loaded[S any] struct {
	state   S
	version uint64
	// snapshot is the version of the snapshot the fold started from, 0
	// when it started from the initial state.
	snapshot uint64
	// handled are the events stamped with the command ID asked about.
	handled []event.Envelope
}

// load folds stream and also returns the events stamped with commandID (none
// when commandID is empty), which tell the handler the command was handled.
// With snapshots on, only events after the snapshot are read, so a command
// handled before the snapshot is not recognised here; its events' IDs are
// then recognised by the store instead (see SnapshotPolicy).
func (r *Repository[S]) load(ctx context.Context, stream, commandID string) (loaded[S], error) {
	l := loaded[S]{state: r.initial()}
	if r.snap != nil {
		state, version, ok, err := r.snap.load(ctx, r.store, stream)
		if err != nil {
			return l, err
		}
		if ok {
			l.state, l.version, l.snapshot = state, version, version
		}
	}
	for {
		page, err := r.store.ReadStream(ctx, stream, l.version+1, loadPage)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return loaded[S]{state: r.initial()}, nil
		}
		if err != nil {
			return l, fmt.Errorf("cqrs: load %s: %w", stream, err)
		}
		if len(page) > 0 && page[0].Version != l.version+1 {
			return l, &HiddenEventsError{Stream: stream, Want: l.version + 1, First: page[0].Version}
		}
		for _, e := range page {
			if l.state, err = r.evolve(l.state, e); err != nil {
				return l, fmt.Errorf("cqrs: evolve %s at version %d: %w", stream, e.Version, err)
			}
			l.version = e.Version
			if commandID != "" && e.Metadata[MetaCommandID] == commandID {
				l.handled = append(l.handled, e)
			}
		}
		if len(page) < loadPage {
			return l, nil
		}
	}
}
