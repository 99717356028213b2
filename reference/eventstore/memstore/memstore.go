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
	meta    map[string]eventstore.StreamMetadata
	snaps   map[string]eventstore.Snapshot
	notify  chan struct{} // closed and replaced on every append
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
		meta:    make(map[string]eventstore.StreamMetadata),
		snaps:   make(map[string]eventstore.Snapshot),
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
	if err := s.state(stream).Check(stream, expected); err != nil {
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

// state is what expectations are checked against; the caller holds mu.
func (s *Store) state(stream string) eventstore.StreamState {
	return eventstore.StreamState{Last: uint64(len(s.streams[stream])), Metadata: s.meta[stream]}
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	return s.readStream(ctx, stream, from, limit, false)
}

// ReadStreamBackwards implements eventstore.Store.
func (s *Store) ReadStreamBackwards(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	return s.readStream(ctx, stream, from, limit, true)
}

func (s *Store) readStream(ctx context.Context, stream string, from uint64, limit int, backwards bool) ([]event.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, eventstore.ErrClosed
	}
	st := s.state(stream)
	if !st.Exists() {
		return nil, fmt.Errorf("memstore: read %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	positions := s.streams[stream]
	first := st.Metadata.FirstVisible(st.Last)
	out := []event.Envelope{}
	if backwards {
		if from > st.Last {
			from = st.Last
		}
		for v := from; v >= first && (limit <= 0 || len(out) < limit); v-- {
			out = append(out, s.log[positions[v-1]-1].Clone())
		}
		return out, nil
	}
	if from < first {
		from = first
	}
	for v := from; v <= st.Last && (limit <= 0 || len(out) < limit); v++ {
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
func (s *Store) SubscribeAll(ctx context.Context, from uint64, opts ...eventstore.SubscribeOption) (*eventstore.Subscription, error) {
	filter := eventstore.SubscribeOptions(opts...).Filter
	if from == 0 {
		from = 1
	}
	return s.subscribe(ctx, func(next uint64) ([]event.Envelope, uint64) {
		batch := s.copyFrom(next, subBatch)
		if len(batch) == 0 {
			return nil, next
		}
		after := batch[len(batch)-1].Position + 1
		if filter.Empty() {
			return batch, after
		}
		kept := batch[:0]
		for _, e := range batch {
			if filter.Match(e) {
				kept = append(kept, e)
			}
		}
		return kept, after
	}, from)
}

// SubscribeStream implements eventstore.Store: the same loop as
// SubscribeAll over the stream's versions. Catch-up starts at the first
// version the metadata leaves visible.
func (s *Store) SubscribeStream(ctx context.Context, stream string, from uint64) (*eventstore.Subscription, error) {
	if stream == "" {
		return nil, fmt.Errorf("memstore: subscribe: empty stream name: %w", eventstore.ErrInvalidAppend)
	}
	s.mu.RLock()
	st := s.state(stream)
	s.mu.RUnlock()
	if first := st.Metadata.FirstVisible(st.Last); from < first {
		from = first
	}
	return s.subscribe(ctx, func(next uint64) ([]event.Envelope, uint64) {
		positions := s.streams[stream]
		var batch []event.Envelope
		for v := next; v <= uint64(len(positions)) && len(batch) < subBatch; v++ {
			batch = append(batch, s.log[positions[v-1]-1].Clone())
		}
		return batch, next + uint64(len(batch))
	}, from)
}

// subscribe runs a subscription whose batch function, called with mu read-
// locked, returns the events to send after cursor next and the cursor to
// continue from.
func (s *Store) subscribe(ctx context.Context, batch func(next uint64) ([]event.Envelope, uint64), from uint64) (*eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, eventstore.ErrClosed
	}
	s.subs.Add(1)
	return eventstore.Feed(subBuffer, func(out chan<- event.Envelope) error {
		return s.feed(ctx, from, batch, out)
	}, s.subs.Done), nil
}

// feed delivers batches from cursor next, each read under the read lock
// together with the channel the next append closes, until ctx is done or
// the store closes.
func (s *Store) feed(ctx context.Context, next uint64, batchFn func(uint64) ([]event.Envelope, uint64), out chan<- event.Envelope) error {
	return eventstore.PollFeed(ctx, s.done, next, func(next uint64) ([]event.Envelope, uint64, <-chan struct{}, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.closed {
			return nil, next, nil, eventstore.ErrClosed
		}
		batch, after := batchFn(next)
		return batch, after, s.notify, nil
	}, out)
}

// SetStreamMetadata implements eventstore.Store.
func (s *Store) SetStreamMetadata(ctx context.Context, stream string, md eventstore.StreamMetadata) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if stream == "" {
		return fmt.Errorf("memstore: set metadata: empty stream name: %w", eventstore.ErrInvalidAppend)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return eventstore.ErrClosed
	}
	s.meta[stream] = md
	return nil
}

// StreamMetadata implements eventstore.Store.
func (s *Store) StreamMetadata(ctx context.Context, stream string) (eventstore.StreamMetadata, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.StreamMetadata{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return eventstore.StreamMetadata{}, eventstore.ErrClosed
	}
	return s.meta[stream], nil
}

// DeleteStream implements eventstore.Store.
func (s *Store) DeleteStream(ctx context.Context, stream string, expected eventstore.ExpectedVersion) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := eventstore.ValidateDelete(stream, expected); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return eventstore.ErrClosed
	}
	st := s.state(stream)
	if st.Last == 0 {
		return fmt.Errorf("memstore: delete %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	if err := st.Check(stream, expected); err != nil {
		return err
	}
	s.meta[stream] = st.Metadata.Deleted(st.Last)
	delete(s.snaps, stream)
	return nil
}

// SaveSnapshot implements eventstore.Store.
func (s *Store) SaveSnapshot(ctx context.Context, snap eventstore.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return eventstore.ErrClosed
	}
	if err := eventstore.ValidateSnapshot(snap, uint64(len(s.streams[snap.Stream]))); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if old, ok := s.snaps[snap.Stream]; ok && old.Version > snap.Version {
		return nil
	}
	c := snap.Clone()
	c.Time = s.now()
	s.snaps[snap.Stream] = c
	return nil
}

// LoadSnapshot implements eventstore.Store.
func (s *Store) LoadSnapshot(ctx context.Context, stream string) (eventstore.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.Snapshot{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return eventstore.Snapshot{}, eventstore.ErrClosed
	}
	snap, ok := s.snaps[stream]
	if !ok {
		return eventstore.Snapshot{}, fmt.Errorf("memstore: load snapshot %s: %w", stream, eventstore.ErrSnapshotNotFound)
	}
	return snap.Clone(), nil
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
