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

// Repository loads aggregate state by folding a stream with Evolve.
type Repository[S any] struct {
	store   eventstore.Store
	initial func() S
	evolve  func(S, event.Envelope) (S, error)
}

// NewRepository returns a repository over store for the state that initial
// and evolve define.
func NewRepository[S any](store eventstore.Store, initial func() S, evolve func(S, event.Envelope) (S, error)) *Repository[S] {
	return &Repository[S]{store: store, initial: initial, evolve: evolve}
}

// Load folds stream into state and returns it with the stream's version. A
// stream that does not exist yet loads as the initial state at version 0.
func (r *Repository[S]) Load(ctx context.Context, stream string) (S, uint64, error) {
	s, v, _, err := r.load(ctx, stream, "")
	return s, v, err
}

// load folds stream and also returns the events stamped with commandID (none
// when commandID is empty), which tell the handler the command was handled.
func (r *Repository[S]) load(ctx context.Context, stream, commandID string) (S, uint64, []event.Envelope, error) {
	state := r.initial()
	var (
		version uint64
		handled []event.Envelope
	)
	for {
		page, err := r.store.ReadStream(ctx, stream, version+1, loadPage)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return state, 0, nil, nil
		}
		if err != nil {
			return state, version, nil, fmt.Errorf("cqrs: load %s: %w", stream, err)
		}
		for _, e := range page {
			if state, err = r.evolve(state, e); err != nil {
				return state, version, nil, fmt.Errorf("cqrs: evolve %s at version %d: %w", stream, e.Version, err)
			}
			version = e.Version
			if commandID != "" && e.Metadata[MetaCommandID] == commandID {
				handled = append(handled, e)
			}
		}
		if len(page) < loadPage {
			return state, version, handled, nil
		}
	}
}
