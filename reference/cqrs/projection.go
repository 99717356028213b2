package cqrs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// checkpointPrefix starts the key a runner keeps its checkpoint under,
// followed by the projection's name.
const checkpointPrefix = "checkpoint/"

var (
	// ErrNoPosition is returned by HandleEvent for an event without a
	// global position: the checkpoint could not record it, so a restart
	// could not tell whether it was applied.
	ErrNoPosition = errors.New("cqrs: event has no global position")
	// ErrBadCheckpoint is returned when the stored checkpoint is not a
	// decimal position. Guessing one would skip or repeat events.
	ErrBadCheckpoint = errors.New("cqrs: unreadable projection checkpoint")
	// ErrCheckpointKey is returned when a projection's writes include its
	// own checkpoint key, which would move the checkpoint to a position
	// the runner did not choose.
	ErrCheckpointKey = errors.New("cqrs: projection writes its checkpoint key")
)

// Storage is where a projection keeps its read model and its checkpoint.
// Put writes all its pairs or, when it fails, none: what a database
// transaction or a Pebble batch gives. Get's value must not be changed
// by the caller.
type Storage interface {
	Get(key string) (value []byte, ok bool)
	Put(pairs map[string][]byte) error
}

// Projection folds events into a read model kept in Storage.
type Projection interface {
	// Apply returns the key/value pairs that event e writes, given the
	// read model in s as it stands before e; nil writes nothing. Apply
	// only reads s: the runner writes the pairs, together with the
	// checkpoint, in one Put.
	Apply(s Storage, e event.Envelope) (map[string][]byte, error)
}

// ProjectionFunc adapts a function to Projection.
type ProjectionFunc func(s Storage, e event.Envelope) (map[string][]byte, error)

// Apply calls f.
func (f ProjectionFunc) Apply(s Storage, e event.Envelope) (map[string][]byte, error) {
	return f(s, e)
}

// ProjectionOption configures a ProjectionRunner.
type ProjectionOption func(*projectionOptions)

type projectionOptions struct {
	onApplied func(event.Envelope)
}

// WithOnApplied calls f after each event whose writes and checkpoint were
// stored (not for events skipped as already applied), on the goroutine
// that handled it: for metrics, or for a test to wait on progress. f must
// not block for long, since the runner waits for it.
func WithOnApplied(f func(e event.Envelope)) ProjectionOption {
	return func(o *projectionOptions) { o.onApplied = f }
}

// ProjectionRunner keeps a projection's read model up to date from the
// store's global log, across restarts, applying each event exactly once in
// effect although the log delivers it at least once.
//
// It keeps the global position of the last applied event as a checkpoint
// in the same Storage as the read model, and writes an event's pairs and
// the new checkpoint in one Put. That is the whole guarantee: with two
// writes, a crash between them breaks the read model whichever order they
// come in. Checkpoint first, and the restart resumes after an event whose
// writes were never made: the event is lost. Writes first, and the restart
// applies the event again: it is counted twice unless every projection is
// idempotent by itself. One atomic Put leaves storage either before the
// event or after it, and the checkpoint says which.
//
// One runner per name and storage at a time: two would read the same
// checkpoint and apply the same event twice.
type ProjectionRunner struct {
	store eventstore.Store
	s     Storage
	name  string
	key   string
	p     Projection
	opts  projectionOptions
	// mu makes a checkpoint read, Apply and Put one step, so concurrent
	// HandleEvent calls cannot both apply the same event.
	mu sync.Mutex
}

// NewProjectionRunner returns a runner that applies store's events with p
// to the read model in s, checkpointing under "checkpoint/"+name. Give each
// projection sharing a Storage its own name. store is used only by Run.
func NewProjectionRunner(store eventstore.Store, s Storage, name string, p Projection, opts ...ProjectionOption) *ProjectionRunner {
	var o projectionOptions
	for _, opt := range opts {
		opt(&o)
	}
	return &ProjectionRunner{store: store, s: s, name: name, key: checkpointPrefix + name, p: p, opts: o}
}

// Checkpoint returns the global position of the last event applied, 0
// when none has been. It is stored under "checkpoint/"+name as decimal
// text.
func (r *ProjectionRunner) Checkpoint() (uint64, error) {
	v, ok := r.s.Get(r.key)
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: projection %s: %q under %s", ErrBadCheckpoint, r.name, v, r.key)
	}
	return n, nil
}

// HandleEvent applies e at its global position. An event at or below the
// checkpoint was applied already and is skipped, so redelivery and replay
// change nothing. Otherwise the projection's writes and the new checkpoint
// go to storage in one Put (see ProjectionRunner for why); when that Put
// fails nothing was written, and handling e again later is safe. An event
// that writes nothing still moves the checkpoint, so a replay never asks
// the projection about it again against a read model that has moved on.
func (r *ProjectionRunner) HandleEvent(e event.Envelope) error {
	if e.Position == 0 {
		return fmt.Errorf("%w: projection %s: event %s", ErrNoPosition, r.name, e.ID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cp, err := r.Checkpoint()
	if err != nil {
		return err
	}
	if e.Position <= cp {
		return nil
	}
	writes, err := r.p.Apply(r.s, e)
	if err != nil {
		return fmt.Errorf("cqrs: projection %s: apply event %d (%s %s): %w", r.name, e.Position, e.Type, e.ID, err)
	}
	if _, ok := writes[r.key]; ok {
		return fmt.Errorf("%w: projection %s: event %d writes %s", ErrCheckpointKey, r.name, e.Position, r.key)
	}
	// A copy, so the projection's map is not changed behind its back.
	pairs := make(map[string][]byte, len(writes)+1)
	maps.Copy(pairs, writes)
	pairs[r.key] = []byte(strconv.FormatUint(e.Position, 10))
	if err := r.s.Put(pairs); err != nil {
		return fmt.Errorf("cqrs: projection %s: store event %d: %w", r.name, e.Position, err)
	}
	if r.opts.onApplied != nil {
		r.opts.onApplied(e)
	}
	return nil
}

// Run subscribes to the store's global log from the checkpoint + 1 and
// handles events, catch-up then live, until ctx is done; then it returns
// nil. Any other end — a projection or storage error, the store closing —
// is returned, and calling Run again resumes from the checkpoint. The
// subscription is ended before Run returns.
func (r *ProjectionRunner) Run(ctx context.Context) error {
	cp, err := r.Checkpoint()
	if err != nil {
		return err
	}
	subCtx, cancel := context.WithCancel(ctx)
	sub, err := r.store.SubscribeAll(subCtx, cp+1)
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("cqrs: projection %s: subscribe from %d: %w", r.name, cp+1, err)
	}
	defer func() {
		cancel()
		// Drain, so the feed's goroutine has ended when Run returns.
		for range sub.C {
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-sub.C:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				if err := sub.Err(); err != nil {
					return fmt.Errorf("cqrs: projection %s: subscription ended: %w", r.name, err)
				}
				return fmt.Errorf("cqrs: projection %s: subscription ended", r.name)
			}
			if err := r.HandleEvent(e); err != nil {
				return err
			}
		}
	}
}

// MemoryStorage is Storage in a map, for tests and examples. Its zero
// value is empty and ready; it is safe for concurrent use.
type MemoryStorage struct {
	mu   sync.RWMutex
	data map[string][]byte
}

var _ Storage = (*MemoryStorage)(nil)

// Get returns a copy of key's value.
func (m *MemoryStorage) Get(key string) ([]byte, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.data[key]
	if !ok {
		return nil, false
	}
	return append([]byte{}, v...), true
}

// Put writes copies of all pairs under one lock, so readers see all of
// them or none. It never fails.
func (m *MemoryStorage) Put(pairs map[string][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = make(map[string][]byte, len(pairs))
	}
	for k, v := range pairs {
		m.data[k] = append([]byte{}, v...)
	}
	return nil
}
