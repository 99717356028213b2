package cqrs

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// MetaCommandID is the metadata key that records which command produced an
// event; the Handler finds handled commands by it.
const MetaCommandID = "command-id"

// defaultMaxRetries bounds reload-and-retry after a lost concurrency race.
const defaultMaxRetries = 5

// Correlated is implemented by commands that belong to a larger flow (a saga,
// a request); their events carry its correlation ID instead of the command ID.
type Correlated interface {
	CorrelationID() string
}

// Option configures a Handler.
type Option func(*options)

type options struct {
	maxRetries int
}

// WithMaxRetries sets how many times a command is reloaded and decided again
// after losing an optimistic-concurrency race (default 5; 0 never retries).
func WithMaxRetries(n int) Option {
	return func(o *options) {
		if n >= 0 {
			o.maxRetries = n
		}
	}
}

// Result is the outcome of a handled command.
type Result struct {
	// Events are the command's events. For a fresh command they are as
	// appended, with ID, Stream, Version and Metadata set (Position and Time
	// are the store's and are not read back); for a duplicate they are the
	// stored events.
	Events []event.Envelope
	// Version is the stream's version after the command's last event (the
	// loaded version when the command produced no events).
	Version uint64
	// Position is the global position of the command's last event, 0 when
	// it produced none.
	Position uint64
	// Duplicate is true when the command had already been handled and
	// nothing was decided or written.
	Duplicate bool
}

// Handler dispatches commands of type C to aggregates with state S.
type Handler[S any, C any] struct {
	store  eventstore.Store
	repo   *Repository[S]
	decide func(S, C) ([]event.Envelope, error)
	opts   options
}

// NewHandler returns a handler that loads, decides and appends through store.
func NewHandler[S any, C any](store eventstore.Store, d Decider[S, C], opts ...Option) *Handler[S, C] {
	o := options{maxRetries: defaultMaxRetries}
	for _, opt := range opts {
		opt(&o)
	}
	return &Handler[S, C]{
		store:  store,
		repo:   NewRepository(store, d.Initial, d.Evolve),
		decide: d.Decide,
		opts:   o,
	}
}

// Repository returns the handler's repository, for queries of current state.
func (h *Handler[S, C]) Repository() *Repository[S] { return h.repo }

// Handle applies cmd to stream once per commandID. If the stream already
// holds events of commandID, it returns them with Duplicate set and does not
// call Decide. Domain errors from Decide come back wrapped, so errors.Is and
// errors.As see them. After maxRetries lost races it returns a
// *RetriesExhaustedError.
func (h *Handler[S, C]) Handle(ctx context.Context, stream, commandID string, cmd C) (Result, error) {
	if stream == "" {
		return Result{}, ErrEmptyStream
	}
	if commandID == "" {
		return Result{}, fmt.Errorf("%w (stream %s)", ErrNoCommandID, stream)
	}
	correlation := commandID
	if c, ok := any(cmd).(Correlated); ok && c.CorrelationID() != "" {
		correlation = c.CorrelationID()
	}
	var lastConflict error
	for attempt := 1; attempt <= h.opts.maxRetries+1; attempt++ {
		l, err := h.repo.load(ctx, stream, commandID)
		if err != nil {
			return Result{}, err
		}
		if len(l.handled) > 0 {
			last := l.handled[len(l.handled)-1]
			return Result{Events: l.handled, Version: last.Version, Position: last.Position, Duplicate: true}, nil
		}
		state, version := l.state, l.version
		events, err := h.decide(state, cmd)
		if err != nil {
			return Result{}, fmt.Errorf("cqrs: command %q on %s: %w", commandID, stream, err)
		}
		if len(events) == 0 {
			return Result{Version: version}, nil
		}
		events = stamp(events, stream, commandID, correlation)
		expected := eventstore.Exact(version)
		if version == 0 {
			expected = eventstore.NoStream
		}
		res, err := h.store.Append(ctx, stream, expected, events...)
		var conflict *eventstore.ConcurrencyError
		if errors.As(err, &conflict) {
			lastConflict = err
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("cqrs: command %q on %s: %w", commandID, stream, err)
		}
		first := res.NextExpected - uint64(len(events)) + 1
		for i := range events {
			events[i].Version = first + uint64(i)
		}
		h.repo.maybeSnapshot(ctx, stream, state, l.snapshot, events)
		return Result{Events: events, Version: res.NextExpected, Position: res.Position}, nil
	}
	return Result{}, &RetriesExhaustedError{Stream: stream, CommandID: commandID, Attempts: h.opts.maxRetries + 1, Err: lastConflict}
}

// stamp gives decided events their deterministic IDs and provenance, on
// copies so Decide's values are not changed behind its back.
func stamp(events []event.Envelope, stream, commandID, correlation string) []event.Envelope {
	out := make([]event.Envelope, len(events))
	for i, e := range events {
		c := e.Clone()
		c.ID = commandID + "/" + strconv.Itoa(i)
		c.Stream = stream
		if c.Metadata == nil {
			c.Metadata = make(map[string]string, 3)
		}
		c.Metadata[MetaCommandID] = commandID
		c.Metadata[event.MetaCausationID] = commandID
		if c.Metadata[event.MetaCorrelationID] == "" {
			c.Metadata[event.MetaCorrelationID] = correlation
		}
		out[i] = c
	}
	return out
}
