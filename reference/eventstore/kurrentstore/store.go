package kurrentstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

var _ eventstore.Store = (*Store)(nil)

// subBuffer is the per-subscription channel size: small, so a slow
// subscriber holds little memory; the gRPC stream and the server's
// catch-up/live switching absorb the rest.
const subBuffer = 16

// Option configures a Store.
type Option func(*Store)

// WithStreamPrefix puts every stream of this store under prefix in
// EventStoreDB ("order-1" is stored as prefix+"order-1") and restricts
// ReadAll and SubscribeAll to those streams, so that several stores (or
// test runs) share one server without seeing each other. Event IDs are
// hashed with the prefix too. The prefix must not start with "$".
func WithStreamPrefix(prefix string) Option {
	return func(s *Store) { s.prefix = prefix }
}

// Store is an eventstore.Store over EventStoreDB/KurrentDB, safe for
// concurrent use. See the package documentation for the mapping and what
// it cannot promise.
type Store struct {
	prefix string
	client *esdb.Client
	idx    *index

	// appendMu serialises this process's appends, so the check of event IDs
	// against the index and the write that follows are not interleaved with
	// another append's.
	appendMu sync.Mutex

	mu     sync.RWMutex
	closed bool
	done   chan struct{} // closed by Close
	subs   sync.WaitGroup
}

// New connects to the server named by connString (an esdb:// or
// esdb+discover:// connection string, e.g. "esdb://localhost:2113?tls=false")
// and indexes the existing events, which reads $all once from the start: it
// fails if the server is unreachable or the credentials cannot read $all.
func New(ctx context.Context, connString string, opts ...Option) (*Store, error) {
	s := &Store{idx: newIndex(), done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if err := validPrefix(s.prefix); err != nil {
		return nil, err
	}
	conf, err := esdb.ParseConnectionString(connString)
	if err != nil {
		return nil, fmt.Errorf("kurrentstore: connection string: %w", err)
	}
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("kurrentstore: connect: %w", err)
	}
	s.client = client
	if err := s.idx.catchUp(ctx, client, s.prefix); err != nil {
		_ = client.Close() // the index error is the one worth reporting
		return nil, fmt.Errorf("kurrentstore: initial index of $all: %w", err)
	}
	return s, nil
}

// open fails with ErrClosed once Close has been called, or with the
// context's error.
func (s *Store) open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return eventstore.ErrClosed
	}
	return nil
}

// codeOf extracts the client's error code (Unknown for other errors).
func codeOf(err error) esdb.ErrorCode {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return esdb.ErrorCodeUnknown
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...event.Envelope) (eventstore.AppendResult, error) {
	if err := s.open(ctx); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := validate(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	rev, err := expectedRevision(expected)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	ids := make([]uuid.UUID, len(events))
	names := make([]string, len(events))
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		if data[i], err = encode(s.prefix, e); err != nil {
			return eventstore.AppendResult{}, err
		}
		ids[i], names[i] = data[i].EventID, e.ID
	}

	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
		return eventstore.AppendResult{}, err
	}
	if res, done, err := retried(stream, expected, ids, names, s.idx.lookup, s.idx.version(stream)); done {
		return res, err
	}
	if _, err := s.client.AppendToStream(ctx, s.prefix+stream, esdb.AppendToStreamOptions{ExpectedRevision: rev}, data...); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return eventstore.AppendResult{}, ctxErr
		}
		return eventstore.AppendResult{}, appendError(stream, expected, codeOf(err), err, func() (uint64, error) {
			if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
				return 0, err
			}
			return s.idx.version(stream), nil
		})
	}
	if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("kurrentstore: append %s: written, but indexing it failed: %w", stream, err)
	}
	last, ok := s.idx.lookup(ids[len(ids)-1])
	if !ok {
		return eventstore.AppendResult{}, fmt.Errorf("kurrentstore: append %s: written, but event %q is not in $all: %w", stream, names[len(names)-1], ErrServer)
	}
	return eventstore.AppendResult{NextExpected: last.version, Position: last.position}, nil
}

// ReadStream implements eventstore.Store: a forward read from revision
// from-1, then each event's global position from the index.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if from == 0 {
		from = 1
	}
	count := uint64(math.MaxInt64)
	if limit > 0 {
		count = uint64(limit)
	}
	rs, err := s.client.ReadStream(ctx, s.prefix+stream, esdb.ReadStreamOptions{From: esdb.Revision(revisionOf(from))}, count)
	if err != nil {
		return nil, s.readErr(ctx, stream, err)
	}
	defer rs.Close()
	out := []event.Envelope{}
	var recs []uuid.UUID
	for {
		re, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, s.readErr(ctx, stream, err)
		}
		r := re.OriginalEvent()
		out = append(out, decode(s.prefix, r))
		recs = append(recs, r.EventID)
	}
	indexed := false
	for i, id := range recs {
		l, ok := s.idx.lookup(id)
		if !ok && !indexed {
			// Written after the index last read $all (by another process).
			if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
				return nil, err
			}
			indexed = true
			l, ok = s.idx.lookup(id)
		}
		if ok {
			out[i].Position = l.position
		}
	}
	return out, nil
}

// readErr maps a stream read failure, keeping the context's error as is.
func (s *Store) readErr(ctx context.Context, stream string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return readError(stream, codeOf(err), err)
}

// ReadAll implements eventstore.Store: the index gives ordinal from's $all
// position, and $all is read forward from there, counting the events
// include accepts.
func (s *Store) ReadAll(ctx context.Context, from uint64, limit int) ([]event.Envelope, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
		return nil, err
	}
	if from == 0 {
		from = 1
	}
	out := []event.Envelope{}
	start, total, ok := s.idx.at(from)
	if !ok {
		return out, nil
	}
	want := total - from + 1
	if limit > 0 && uint64(limit) < want {
		want = uint64(limit)
	}
	next := from
	err := scanAllFrom(ctx, s.client, start, nil, func(r *esdb.RecordedEvent) bool {
		if _, ok := include(s.prefix, r.StreamID, r.EventType); !ok {
			return true
		}
		e := decode(s.prefix, r)
		e.Position = next
		next++
		out = append(out, e)
		return uint64(len(out)) < want
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SubscribeAll implements eventstore.Store with one SubscribeToAll, filtered
// on the server to the store's streams (or to non-system events), which
// EventStoreDB serves as catch-up then live without a gap. The adapter
// numbers the events it accepts from the ordinal the start position stands
// for, exactly as the index does.
func (s *Store) SubscribeAll(ctx context.Context, from uint64) (*eventstore.Subscription, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
		return nil, err
	}
	if from == 0 {
		from = 1
	}
	start, next := s.idx.start(from)
	subCtx, cancel := context.WithCancel(ctx)
	sub, err := s.client.SubscribeToAll(subCtx, esdb.SubscribeToAllOptions{From: start, Filter: subscriptionFilter(s.prefix)})
	if err != nil {
		cancel()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, serverErr("subscribe $all", err)
	}

	s.mu.RLock()
	if s.closed { // Close ran meanwhile and will not wait for this one
		s.mu.RUnlock()
		cancel()
		_ = sub.Close() // always nil
		return nil, eventstore.ErrClosed
	}
	s.subs.Add(1)
	s.mu.RUnlock()

	return eventstore.Feed(subBuffer, func(out chan<- event.Envelope) error {
		stop := context.AfterFunc(subCtx, func() { _ = sub.Close() })
		defer stop()
		unwatch := make(chan struct{})
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-unwatch:
			}
		}()
		why := s.feed(ctx, sub, next, from, out)
		close(unwatch)
		cancel()
		_ = sub.Close()
		return why
	}, s.subs.Done), nil
}

// feed delivers the subscription's events with position >= from, numbering
// them from next, until the store closes, ctx is done or the server drops
// the subscription, and says which.
func (s *Store) feed(ctx context.Context, sub *esdb.Subscription, next, from uint64, out chan<- event.Envelope) error {
	why := func(dropped error) error {
		select {
		case <-s.done:
			return eventstore.ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return serverErr("subscription dropped", dropped)
	}
	for {
		m := sub.Recv()
		switch {
		case m.SubscriptionDropped != nil:
			return why(m.SubscriptionDropped.Error)
		case m.EventAppeared == nil:
			continue // checkpoints, caught-up and fell-behind notices
		}
		r := m.EventAppeared.OriginalEvent()
		if _, ok := include(s.prefix, r.StreamID, r.EventType); !ok {
			continue
		}
		ord := next
		next++
		if ord < from {
			continue
		}
		e := decode(s.prefix, r)
		e.Position = ord
		select {
		case out <- e:
		case <-ctx.Done():
			return why(nil)
		case <-s.done:
			return eventstore.ErrClosed
		}
	}
}

// Close implements eventstore.Store: it ends every subscription, waits for
// their goroutines and closes the connection. Later calls return ErrClosed.
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
	return s.client.Close()
}
