package kurrentstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
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
	if last := s.idx.version(stream); last > 0 && expected != eventstore.Any && expected <= 0 {
		// NoStream and StreamExists on a stream that has events depend on
		// whether it is soft-deleted: the adapter decides with the
		// metadata instead of relying on the server to agree with edkit.
		md, err := s.metadata(ctx, stream, last)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		if rev, err = serverExpectation(stream, expected, eventstore.StreamState{Last: last, Metadata: md}); err != nil {
			return eventstore.AppendResult{}, err
		}
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
// from-1, then each event's global position from the index. EventStoreDB
// hides what $maxCount and $tb hide.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if from == 0 {
		from = 1
	}
	return s.readStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(revisionOf(from))}, limit)
}

// ReadStreamBackwards implements eventstore.Store: a backwards read from
// revision from-1, or from the end when from is past the stream's last
// version.
func (s *Store) ReadStreamBackwards(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if from == 0 { // nothing is at or below version 0, but a missing stream is still an error
		return s.emptyRead(ctx, stream)
	}
	if from != eventstore.End && from > s.idx.version(stream) {
		// The stream may have grown since the index last read $all: from is
		// only "past the end" if it still is after catching up.
		if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
			return nil, err
		}
	}
	opts := esdb.ReadStreamOptions{Direction: esdb.Backwards, From: backwardsStart(from, s.idx.version(stream))}
	return s.readStream(ctx, stream, opts, limit)
}

// readStream runs one stream read and sets each event's global position from
// the index. An empty result is checked against the stream's state, so a
// stream whose metadata hides every event (a soft delete) is
// ErrStreamNotFound whether the server answers "not found" or "no events".
func (s *Store) readStream(ctx context.Context, stream string, opts esdb.ReadStreamOptions, limit int) ([]event.Envelope, error) {
	count := uint64(math.MaxInt64)
	if limit > 0 {
		count = uint64(limit)
	}
	rs, err := s.client.ReadStream(ctx, s.prefix+stream, opts, count)
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
	if len(out) == 0 {
		return s.emptyRead(ctx, stream)
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

// emptyRead is the answer to a read that found no events: none, or
// ErrStreamNotFound when the stream does not exist or is soft-deleted.
func (s *Store) emptyRead(ctx context.Context, stream string) ([]event.Envelope, error) {
	st, err := s.state(ctx, stream)
	if err != nil {
		return nil, err
	}
	if !st.Exists() {
		return nil, fmt.Errorf("kurrentstore: read %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	return []event.Envelope{}, nil
}

// state is the stream's last version (from the index, brought up to the
// end of $all) and its metadata (from the server).
func (s *Store) state(ctx context.Context, stream string) (eventstore.StreamState, error) {
	if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
		return eventstore.StreamState{}, err
	}
	last := s.idx.version(stream)
	md, err := s.metadata(ctx, stream, last)
	if err != nil {
		return eventstore.StreamState{}, err
	}
	return eventstore.StreamState{Last: last, Metadata: md}, nil
}

// metadata reads the stream's metadata. The metadata stream is read
// backwards from its end, so the latest $metadata event wins whatever the
// metastream's own retention.
func (s *Store) metadata(ctx context.Context, stream string, last uint64) (eventstore.StreamMetadata, error) {
	m, err := s.client.GetStreamMetadata(ctx, s.prefix+stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return eventstore.StreamMetadata{}, ctxErr
		}
		if codeOf(err) == esdb.ErrorCodeResourceNotFound {
			return eventstore.StreamMetadata{}, nil
		}
		return eventstore.StreamMetadata{}, serverErr("read metadata of "+stream, err)
	}
	return fromServerMetadata(m, last), nil
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

// SubscribeAll implements eventstore.Store with one SubscribeToAll,
// filtered on the server (userFilter), which EventStoreDB serves as
// catch-up then live without a gap. Without a filter, the adapter numbers
// the events it accepts from the ordinal the start position stands for,
// exactly as the index does; with one, the server leaves out events that
// have ordinals, so each event's ordinal is looked up by its $all position
// in the index instead. Either way every event is tested again with include
// and the filter, so the server filter only narrows what crosses the wire.
func (s *Store) SubscribeAll(ctx context.Context, from uint64, opts ...eventstore.SubscribeOption) (*eventstore.Subscription, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	filter := eventstore.SubscribeOptions(opts...).Filter
	if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
		return nil, err
	}
	if from == 0 {
		from = 1
	}
	start, next := s.idx.start(from)
	server := userFilter(s.prefix, filter)
	return s.subscribe(ctx, "subscribe $all", func(ctx context.Context) (*esdb.Subscription, error) {
		return s.client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: start, Filter: server})
	}, func(ctx context.Context, r *esdb.RecordedEvent) (event.Envelope, bool, error) {
		if _, ok := include(s.prefix, r.StreamID, r.EventType); !ok {
			return event.Envelope{}, false, nil
		}
		var ord uint64
		if filter.Empty() {
			ord = next
			next++
		} else {
			var err error
			if ord, err = s.ordinal(ctx, r.Position); err != nil {
				return event.Envelope{}, false, err
			}
		}
		if ord < from {
			return event.Envelope{}, false, nil
		}
		e := decode(s.prefix, r)
		e.Position = ord
		return e, filter.Match(e), nil
	})
}

// ordinal is the edkit position of the $all event at p, catching the index
// up once if it has not read that far.
func (s *Store) ordinal(ctx context.Context, p esdb.Position) (uint64, error) {
	if ord, ok := s.idx.ordinal(p); ok {
		return ord, nil
	}
	if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
		return 0, err
	}
	if ord, ok := s.idx.ordinal(p); ok {
		return ord, nil
	}
	return 0, fmt.Errorf("kurrentstore: subscription: event at $all position %d/%d is not in $all: %w", p.Commit, p.Prepare, ErrServer)
}

// SubscribeStream implements eventstore.Store with SubscribeToStream. The
// start is raised to the first version the stream's metadata leaves
// visible (as memstore does) instead of relying on the server's catch-up to
// apply $maxCount and $tb; versions below from are dropped, so a start the
// server treats as inclusive cannot repeat one.
func (s *Store) SubscribeStream(ctx context.Context, stream string, from uint64) (*eventstore.Subscription, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if stream == "" {
		return nil, fmt.Errorf("kurrentstore: subscribe: empty stream name: %w", eventstore.ErrInvalidAppend)
	}
	st, err := s.state(ctx, stream)
	if err != nil {
		return nil, err
	}
	if first := st.Metadata.FirstVisible(st.Last); from < first {
		from = first
	}
	return s.subscribe(ctx, "subscribe "+stream, func(ctx context.Context) (*esdb.Subscription, error) {
		return s.client.SubscribeToStream(ctx, s.prefix+stream, esdb.SubscribeToStreamOptions{From: streamSubscriptionStart(from)})
	}, func(ctx context.Context, r *esdb.RecordedEvent) (event.Envelope, bool, error) {
		if strings.HasPrefix(r.EventType, "$") || versionOf(r.EventNumber) < from {
			return event.Envelope{}, false, nil
		}
		e := decode(s.prefix, r)
		l, ok := s.idx.lookup(r.EventID)
		if !ok {
			if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
				return event.Envelope{}, false, err
			}
			l, ok = s.idx.lookup(r.EventID)
		}
		if ok {
			e.Position = l.position
		}
		return e, true, nil
	})
}

// subscribe opens a server subscription with open and feeds what handle
// makes of each event (skipping those it declines) to a new Subscription,
// until the store closes, ctx is done, the server drops the subscription or
// handle fails.
func (s *Store) subscribe(ctx context.Context, op string, open func(context.Context) (*esdb.Subscription, error), handle func(context.Context, *esdb.RecordedEvent) (event.Envelope, bool, error)) (*eventstore.Subscription, error) {
	subCtx, cancel := context.WithCancel(ctx)
	sub, err := open(subCtx)
	if err != nil {
		cancel()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, serverErr(op, err)
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
		why := s.feed(ctx, subCtx, sub, handle, out)
		close(unwatch)
		cancel()
		_ = sub.Close()
		return why
	}, s.subs.Done), nil
}

// feed delivers what handle makes of the subscription's events until the
// store closes, ctx is done, the server drops the subscription or handle
// fails, and says which. handle runs with subCtx, which Close cancels.
func (s *Store) feed(ctx, subCtx context.Context, sub *esdb.Subscription, handle func(context.Context, *esdb.RecordedEvent) (event.Envelope, bool, error), out chan<- event.Envelope) error {
	why := func(cause error) error {
		select {
		case <-s.done:
			return eventstore.ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return cause
	}
	for {
		m := sub.Recv()
		switch {
		case m.SubscriptionDropped != nil:
			return why(serverErr("subscription dropped", m.SubscriptionDropped.Error))
		case m.EventAppeared == nil:
			continue // checkpoints, caught-up and fell-behind notices
		}
		e, ok, err := handle(subCtx, m.EventAppeared.OriginalEvent())
		if err != nil {
			return why(err)
		}
		if !ok {
			continue
		}
		select {
		case out <- e:
		case <-ctx.Done():
			return why(nil)
		case <-s.done:
			return eventstore.ErrClosed
		}
	}
}

// SetStreamMetadata implements eventstore.Store: it writes the stream's
// $metadata ($maxCount, and $tb one below TruncateBefore), which replaces
// whatever metadata the stream had.
func (s *Store) SetStreamMetadata(ctx context.Context, stream string, md eventstore.StreamMetadata) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if stream == "" {
		return fmt.Errorf("kurrentstore: set metadata: empty stream name: %w", eventstore.ErrInvalidAppend)
	}
	if _, err := s.client.SetStreamMetadata(ctx, s.prefix+stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, toServerMetadata(md)); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return serverErr("set metadata of "+stream, err)
	}
	return nil
}

// StreamMetadata implements eventstore.Store. A soft-deleted stream reads
// back with TruncateBefore one past its last version, as in memstore.
func (s *Store) StreamMetadata(ctx context.Context, stream string) (eventstore.StreamMetadata, error) {
	if err := s.open(ctx); err != nil {
		return eventstore.StreamMetadata{}, err
	}
	st, err := s.state(ctx, stream)
	if err != nil {
		return eventstore.StreamMetadata{}, err
	}
	return st.Metadata, nil
}

// DeleteStream implements eventstore.Store with EventStoreDB's soft delete.
// The expectation is checked on the client against the index and the
// metadata first, so the contract's answers (ErrStreamNotFound for a stream
// never written, a no-op for one already deleted, NoStream holding for a
// deleted stream) do not depend on how the server treats those cases; the
// server checks the expectation again against the live stream.
func (s *Store) DeleteStream(ctx context.Context, stream string, expected eventstore.ExpectedVersion) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if err := eventstore.ValidateDelete(stream, expected); err != nil {
		return fmt.Errorf("kurrentstore: %w", err)
	}
	st, err := s.state(ctx, stream)
	if err != nil {
		return err
	}
	if st.Last == 0 {
		return fmt.Errorf("kurrentstore: delete %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	rev, err := serverExpectation(stream, expected, st)
	if err != nil {
		return err
	}
	if st.Exists() {
		if _, err := s.client.DeleteStream(ctx, s.prefix+stream, esdb.DeleteStreamOptions{ExpectedRevision: rev}); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			if !notFound(codeOf(err)) { // deleted meanwhile: the same outcome
				return deleteError(stream, expected, codeOf(err), err, func() (uint64, error) {
					if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
						return 0, err
					}
					return s.idx.version(stream), nil
				})
			}
		}
	}
	return s.dropSnapshot(ctx, stream)
}

// dropSnapshot soft-deletes stream's snapshot stream, if it has a snapshot.
func (s *Store) dropSnapshot(ctx context.Context, stream string) error {
	_, _, found, err := s.loadSnapshot(ctx, stream)
	if err != nil || !found {
		return err
	}
	if _, err := s.client.DeleteStream(ctx, snapshotStream(s.prefix, stream), esdb.DeleteStreamOptions{ExpectedRevision: esdb.Any{}}); err != nil && !notFound(codeOf(err)) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return serverErr("delete snapshot of "+stream, err)
	}
	return nil
}

// saveAttempts bounds SaveSnapshot's optimistic retries when other savers
// keep winning the race for the snapshot stream.
const saveAttempts = 8

// SaveSnapshot implements eventstore.Store: it reads the current snapshot,
// keeps it if it is later, else appends snap to the snapshot stream
// expecting the revision it read, so a concurrent save cannot slip an older
// snapshot in after a newer one; on a conflict it reads again.
func (s *Store) SaveSnapshot(ctx context.Context, snap eventstore.Snapshot) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if err := s.idx.catchUp(ctx, s.client, s.prefix); err != nil {
		return err
	}
	if err := eventstore.ValidateSnapshot(snap, s.idx.version(snap.Stream)); err != nil {
		return fmt.Errorf("kurrentstore: %w", err)
	}
	data, err := encodeSnapshot(snap)
	if err != nil {
		return err
	}
	name := snapshotStream(s.prefix, snap.Stream)
	noStreamRefused := false
	for range saveAttempts {
		cur, rev, found, err := s.loadSnapshot(ctx, snap.Stream)
		if err != nil {
			return err
		}
		if found && cur.Version > snap.Version {
			return nil
		}
		var expected esdb.ExpectedRevision = esdb.NoStream{}
		switch {
		case found:
			expected = esdb.Revision(rev)
		case noStreamRefused:
			// A soft-deleted snapshot stream the server does not count as
			// "no stream": fall back to Any, losing only the race check.
			expected = esdb.Any{}
		}
		_, err = s.client.AppendToStream(ctx, name, esdb.AppendToStreamOptions{ExpectedRevision: expected}, data)
		if err == nil {
			if found {
				return nil
			}
			// A new (or recreated) snapshot stream: keep only its newest
			// event. Written after the append, so a deleted older snapshot
			// never becomes visible again.
			if _, err := s.client.SetStreamMetadata(ctx, name, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, toServerMetadata(eventstore.StreamMetadata{MaxCount: 1})); err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil {
					return ctxErr
				}
				return serverErr("set snapshot stream metadata of "+snap.Stream, err)
			}
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if codeOf(err) != esdb.ErrorCodeWrongExpectedVersion {
			return serverErr("save snapshot of "+snap.Stream, err)
		}
		noStreamRefused = !found
	}
	return fmt.Errorf("kurrentstore: save snapshot of %s: lost the race %d times: %w", snap.Stream, saveAttempts, ErrServer)
}

// LoadSnapshot implements eventstore.Store: one backwards read of the
// snapshot stream.
func (s *Store) LoadSnapshot(ctx context.Context, stream string) (eventstore.Snapshot, error) {
	if err := s.open(ctx); err != nil {
		return eventstore.Snapshot{}, err
	}
	snap, _, found, err := s.loadSnapshot(ctx, stream)
	if err != nil {
		return eventstore.Snapshot{}, err
	}
	if !found {
		return eventstore.Snapshot{}, fmt.Errorf("kurrentstore: load snapshot %s: %w", stream, eventstore.ErrSnapshotNotFound)
	}
	return snap, nil
}

// loadSnapshot reads stream's latest snapshot and its revision in the
// snapshot stream; found is false when there is none (or it was deleted).
func (s *Store) loadSnapshot(ctx context.Context, stream string) (snap eventstore.Snapshot, rev uint64, found bool, err error) {
	fail := func(err error) (eventstore.Snapshot, uint64, bool, error) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return eventstore.Snapshot{}, 0, false, ctxErr
		}
		if notFound(codeOf(err)) {
			return eventstore.Snapshot{}, 0, false, nil
		}
		return eventstore.Snapshot{}, 0, false, serverErr("load snapshot of "+stream, err)
	}
	rs, err := s.client.ReadStream(ctx, snapshotStream(s.prefix, stream), esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return fail(err)
	}
	defer rs.Close()
	re, err := rs.Recv()
	if errors.Is(err, io.EOF) {
		return eventstore.Snapshot{}, 0, false, nil
	}
	if err != nil {
		return fail(err)
	}
	r := re.OriginalEvent()
	if snap, err = decodeSnapshot(stream, r); err != nil {
		return eventstore.Snapshot{}, 0, false, err
	}
	return snap, r.EventNumber, true, nil
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
