package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

var _ eventstore.Store = (*Store)(nil)

const (
	// subBuffer is the per-subscription channel size: small, so memory does
	// not grow with a slow subscriber.
	subBuffer = 16
	// subBatch is how many events a subscription copies out per lock.
	subBatch = 64
)

// Option configures a Store.
type Option func(*Store)

// WithNow sets the clock that stamps Envelope.Time, so tests and scenarios
// control it (default time.Now).
func WithNow(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// Store is an in-memory eventstore.Store, safe for concurrent use.
type Store struct {
	now func() time.Time

	mu      sync.RWMutex
	log     []event.Envelope    // index = Position-1
	streams map[string][]uint64 // stream -> positions, index = Version-1
	ids     map[string]uint64   // event ID -> position
	notify  chan struct{}       // closed and replaced on every append
	closed  bool
	done    chan struct{} // closed by Close
	subs    sync.WaitGroup
}

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{
		now:     time.Now,
		streams: make(map[string][]uint64),
		ids:     make(map[string]uint64),
		notify:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...event.Envelope) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := validate(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	positions := s.streams[stream]
	current := uint64(len(positions))

	if res, done, err := s.retried(stream, expected, events, current); done {
		return res, err
	}
	if err := check(stream, expected, current); err != nil {
		return eventstore.AppendResult{}, err
	}

	at := s.now()
	for i, e := range events {
		c := e.Clone()
		c.Stream = stream
		c.Version = current + uint64(i) + 1
		c.Position = uint64(len(s.log)) + 1
		c.Time = at
		s.log = append(s.log, c)
		positions = append(positions, c.Position)
		s.ids[c.ID] = c.Position
	}
	s.streams[stream] = positions
	close(s.notify)
	s.notify = make(chan struct{})
	return eventstore.AppendResult{NextExpected: uint64(len(positions)), Position: uint64(len(s.log))}, nil
}

// validate rejects appends that can never succeed, before taking the lock.
func validate(stream string, expected eventstore.ExpectedVersion, events []event.Envelope) error {
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

// retried recognises a retry of an earlier append. done is false when no
// event ID is stored yet (a new append). When every ID is stored in this
// stream consecutively and in order, the earlier result is returned if the
// expectation agrees with where they landed, else a *ConcurrencyError. Any
// other overlap is an idempotency conflict.
func (s *Store) retried(stream string, expected eventstore.ExpectedVersion, events []event.Envelope, current uint64) (eventstore.AppendResult, bool, error) {
	found := 0
	for _, e := range events {
		if _, ok := s.ids[e.ID]; ok {
			found++
		}
	}
	if found == 0 {
		return eventstore.AppendResult{}, false, nil
	}
	conflict := func(why string) (eventstore.AppendResult, bool, error) {
		return eventstore.AppendResult{}, true, fmt.Errorf("memstore: append %s: %s: %w", stream, why, eventstore.ErrIdempotencyConflict)
	}
	if found < len(events) {
		return conflict(fmt.Sprintf("%d of %d event IDs already stored", found, len(events)))
	}
	first := s.log[s.ids[events[0].ID]-1]
	for i, e := range events {
		stored := s.log[s.ids[e.ID]-1]
		if stored.Stream != stream {
			return conflict(fmt.Sprintf("event ID %q is stored in stream %q", e.ID, stored.Stream))
		}
		if stored.Version != first.Version+uint64(i) {
			return conflict(fmt.Sprintf("event ID %q is stored out of order", e.ID))
		}
	}
	last := s.log[s.ids[events[len(events)-1].ID]-1]
	res := eventstore.AppendResult{NextExpected: last.Version, Position: last.Position}
	switch {
	case expected == eventstore.Any, expected == eventstore.StreamExists:
		return res, true, nil
	case expected == eventstore.NoStream && first.Version == 1:
		return res, true, nil
	case expected >= 0 && uint64(expected)+1 == first.Version:
		return res, true, nil
	}
	return eventstore.AppendResult{}, true, &eventstore.ConcurrencyError{Stream: stream, Expected: expected, Actual: current}
}

// check tests an expectation against the stream's current version. Exact(0)
// means the same as NoStream: a stream with no events does not exist.
func check(stream string, expected eventstore.ExpectedVersion, current uint64) error {
	return eventstore.CheckExpected(stream, expected, current)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, eventstore.ErrClosed
	}
	positions, ok := s.streams[stream]
	if !ok {
		return nil, fmt.Errorf("memstore: read %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	if from == 0 {
		from = 1
	}
	out := []event.Envelope{}
	for v := from; v <= uint64(len(positions)); v++ {
		if limit > 0 && len(out) >= limit {
			break
		}
		out = append(out, s.log[positions[v-1]-1].Clone())
	}
	return out, nil
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, from uint64, limit int) ([]event.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, eventstore.ErrClosed
	}
	return s.copyFrom(from, limit), nil
}

// copyFrom copies up to limit events from position from; the caller holds mu.
func (s *Store) copyFrom(from uint64, limit int) []event.Envelope {
	if from == 0 {
		from = 1
	}
	out := []event.Envelope{}
	for p := from; p <= uint64(len(s.log)); p++ {
		if limit > 0 && len(out) >= limit {
			break
		}
		out = append(out, s.log[p-1].Clone())
	}
	return out
}

// SubscribeAll implements eventstore.Store. A goroutine per subscription
// reads the log by position and blocks on a small channel, so catch-up and
// live delivery are one loop and the switch-over cannot skip or repeat.
func (s *Store) SubscribeAll(ctx context.Context, from uint64) (*eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, eventstore.ErrClosed
	}
	if from == 0 {
		from = 1
	}
	s.subs.Add(1)
	return eventstore.Feed(subBuffer, func(out chan<- event.Envelope) error {
		return s.feed(ctx, from, out)
	}, s.subs.Done), nil
}

// feed delivers events from position next until ctx is done or the store
// closes, and returns which of the two happened.
func (s *Store) feed(ctx context.Context, next uint64, out chan<- event.Envelope) error {
	for {
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return eventstore.ErrClosed
		}
		batch := s.copyFrom(next, subBatch)
		wake := s.notify
		s.mu.RUnlock()

		for _, e := range batch {
			select {
			case out <- e:
				next = e.Position + 1
			case <-ctx.Done():
				return ctx.Err()
			case <-s.done:
				return eventstore.ErrClosed
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return eventstore.ErrClosed
		}
	}
}

// Close implements eventstore.Store: it ends every subscription and waits for
// their goroutines, so nothing outlives the store.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return eventstore.ErrClosed
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.subs.Wait()
	return nil
}

// Version returns the stream's current version (0 when it does not exist),
// for tests and checkers that inspect final state.
func (s *Store) Version(stream string) uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return uint64(len(s.streams[stream]))
}

// LastPosition returns the global position of the newest event (0 when
// empty), so a caller can subscribe from "now" or wait for quiescence.
func (s *Store) LastPosition() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return uint64(len(s.log))
}
