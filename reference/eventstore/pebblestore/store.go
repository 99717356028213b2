package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

var _ eventstore.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*config)

type config struct {
	now    func() time.Time
	pebble func(*pebble.Options)
}

// WithNow sets the clock that stamps Envelope.Time, so tests and scenarios
// control it (default time.Now). Stored times keep nanoseconds, not the
// location or monotonic reading.
func WithNow(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithPebbleOptions lets a caller tune Pebble (cache, memtable size, a
// virtual file system in tests) before Open. Turning off the WAL would void
// the durability promise; do not.
func WithPebbleOptions(tune func(*pebble.Options)) Option {
	return func(c *config) { c.pebble = tune }
}

const (
	// cacheSize is Pebble's block cache.
	cacheSize = 32 << 20
	// recentCommits is how many commits' IDs stay in memory after they
	// are synced, so an append's unlocked ID lookup can be completed
	// under the lock without touching Pebble.
	recentCommits = 64
)

// quietLogger drops Pebble's informational lines (WAL replay after a crash
// is routine for this store) and keeps its errors and fatal errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }

func (quietLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }

// head is one stream's version: allocated counts appends waiting for their
// fsync, synced only those that are durable and visible.
type head struct {
	allocated, synced uint64
}

// request is one append between allocation and acknowledgement.
type request struct {
	stream   string
	first    uint64 // version of the first event
	firstPos uint64 // position of the first event
	ids      []string
	bodies   [][]byte
	res      eventstore.AppendResult
	err      error
	done     chan struct{} // closed once res/err are final
	promote  chan struct{} // closed to make this append's goroutine the leader
}

// pendingID locates an event ID whose append is not yet synced.
type pendingID struct {
	loc idLoc
	req *request
}

// Store is a durable eventstore.Store on Pebble, safe for concurrent use.
type Store struct {
	db  *pebble.DB
	now func() time.Time

	mu        sync.RWMutex
	heads     map[string]*head
	meta      map[string]eventstore.StreamMetadata // synced stream metadata
	pending   map[string]pendingID                 // event IDs allocated but not yet synced
	queue     []*request                           // allocated, waiting for a leader to commit them
	allocated uint64                               // last allocated position
	synced    uint64                               // last durable, visible position
	notify    chan struct{}                        // closed and replaced when synced advances
	closed    bool
	failed    error // set when a commit failed; appends are refused

	// gen counts successful commits. Appends look their event IDs up in
	// Pebble before taking mu; IDs committed since then are found in
	// recent, which keeps the IDs of the last recentCommits commits.
	gen       atomic.Uint64
	filter    *idFilter // every stored or pending ID; misses skip Pebble
	recent    map[string]idLoc
	recentLog [][]string // IDs per commit, oldest first

	committing bool           // a leader is committing; others queue
	snapMu     sync.Mutex     // serializes snapshot and delete writes, taken before mu
	commits    atomic.Uint64  // synced batches
	appended   atomic.Uint64  // acknowledged new appends
	events     atomic.Uint64  // events in them
	appends    sync.WaitGroup // appends past allocation, until acknowledged
	done       chan struct{}  // closed by Close
	readers    sync.WaitGroup // reads and subscriptions using db
}

// Open opens (creating if needed) the store in dir and rebuilds the stream
// heads from it. Only one process may have dir open at a time (Pebble locks it).
func Open(dir string, opts ...Option) (*Store, error) {
	cfg := config{now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref()
	po := &pebble.Options{Logger: quietLogger{}, Cache: cache}
	// Bloom filters make the event-ID lookup of every append (almost
	// always a miss) cheap once the index has left the memtable.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	if cfg.pebble != nil {
		cfg.pebble(po)
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	s := &Store{
		db:      db,
		now:     cfg.now,
		heads:   make(map[string]*head),
		meta:    make(map[string]eventstore.StreamMetadata),
		pending: make(map[string]pendingID),
		recent:  make(map[string]idLoc),
		filter:  newIDFilter(),
		notify:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	return s, nil
}

// load reads the last position and every stream head, and checks that the
// last position agrees with the end of the global log.
func (s *Store) load() error {
	last, err := s.getUint64(keyLast)
	if err != nil {
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixLog, UpperBound: prefixEnd(prefixLog)})
	if err != nil {
		return err
	}
	var end uint64
	if it.Last() {
		end = binary.BigEndian.Uint64(it.Key()[len(prefixLog):])
	}
	if err := it.Close(); err != nil {
		return err
	}
	if end != last {
		return fmt.Errorf("last position %d but the log ends at %d: %w", last, end, ErrCorrupt)
	}
	s.allocated, s.synced = last, last

	it, err = s.db.NewIter(&pebble.IterOptions{LowerBound: prefixHead, UpperBound: prefixEnd(prefixHead)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		if len(v) != 8 {
			_ = it.Close()
			return fmt.Errorf("stream head %q: %w", it.Key(), ErrCorrupt)
		}
		version := binary.BigEndian.Uint64(v)
		s.heads[string(it.Key()[len(prefixHead):])] = &head{allocated: version, synced: version}
	}
	if err := it.Close(); err != nil {
		return err
	}

	if err := s.loadMeta(); err != nil {
		return err
	}

	it, err = s.db.NewIter(&pebble.IterOptions{LowerBound: prefixID, UpperBound: prefixEnd(prefixID)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		s.filter.add(string(it.Key()[len(prefixID):]))
	}
	return it.Close()
}

// prefixEnd is the smallest key greater than every key starting with p
// (p's last byte is '/', never 0xff).
func prefixEnd(p []byte) []byte {
	e := append([]byte(nil), p...)
	e[len(e)-1]++
	return e
}

// getUint64 reads an 8-byte value, 0 when the key is absent.
func (s *Store) getUint64(key []byte) (uint64, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer func() { _ = closer.Close() }() // releases the value; a Get's closer has nothing to report
	if len(v) != 8 {
		return 0, fmt.Errorf("key %q holds %d bytes: %w", key, len(v), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

// Append implements eventstore.Store. It returns once the events are synced
// to disk. ctx is checked before the append is queued; once queued, the
// append completes (or fails with the disk) whatever ctx does, so that the
// caller never mistakes a durable append for a failed one.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...event.Envelope) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := validate(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	req := &request{stream: stream, ids: make([]string, len(events)), bodies: make([][]byte, len(events)), done: make(chan struct{}), promote: make(chan struct{})}
	for i, e := range events {
		req.ids[i] = e.ID
		req.bodies[i] = encodeBody(stream, e)
	}
	// Look the IDs up in Pebble before taking the lock: the lookup is
	// the costliest part of an append, and the lock serializes appends.
	if _, _, err := s.enter(""); err != nil {
		return eventstore.AppendResult{}, err
	}
	gen := s.gen.Load()
	stored, err := s.lookupStored(req.ids)
	s.readers.Done()
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("pebblestore: append %s: %w", stream, err)
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	if s.failed != nil {
		err := s.failed // wraps ErrFailed and the commit's error
		s.mu.Unlock()
		return eventstore.AppendResult{}, err
	}
	h := s.heads[stream]
	var current uint64
	if h != nil {
		current = h.allocated
	}
	res, waits, done, err := s.retried(stream, expected, req.ids, stored, gen, current)
	if done {
		s.mu.Unlock()
		for _, w := range waits {
			<-w.done
			if w.err != nil {
				return eventstore.AppendResult{}, w.err
			}
		}
		return res, err
	}
	if err := (eventstore.StreamState{Last: current, Metadata: s.meta[stream]}).Check(stream, expected); err != nil {
		s.mu.Unlock()
		return eventstore.AppendResult{}, err
	}
	if h == nil {
		h = &head{}
		s.heads[stream] = h
	}
	at := s.now()
	req.first, req.firstPos = current+1, s.allocated+1
	for i, id := range req.ids {
		v, p := req.first+uint64(i), req.firstPos+uint64(i)
		setHeader(req.bodies[i], v, at)
		s.filter.add(id)
		s.pending[id] = pendingID{loc: idLoc{stream: stream, version: v, position: p}, req: req}
	}
	n := uint64(len(events))
	h.allocated += n
	s.allocated += n
	req.res = eventstore.AppendResult{NextExpected: h.allocated, Position: s.allocated}
	s.queue = append(s.queue, req)
	lead := !s.committing
	s.committing = true
	s.appends.Add(1)
	s.mu.Unlock()

	defer s.appends.Done()
	if !lead {
		select {
		case <-req.done:
		case <-req.promote:
			lead = true
		}
	}
	if lead {
		s.lead()
	}
	<-req.done
	if req.err != nil {
		return eventstore.AppendResult{}, req.err
	}
	return req.res, nil
}

// lead group-commits: the goroutine of the append that found no commit
// running (the leader) takes every queued append, including its own, and
// commits them as one batch with one fsync. Appends queued meanwhile wait;
// when the commit is done the first of them is promoted to lead the next
// batch, so a lone writer commits on its own goroutine with no hand-off,
// and concurrent writers share fsyncs.
func (s *Store) lead() {
	s.mu.Lock()
	reqs := s.queue
	s.queue = nil
	s.mu.Unlock()
	s.commit(reqs)
}

// commit writes reqs, in allocation order, as one synced batch.
func (s *Store) commit(reqs []*request) {
	b := s.db.NewBatch()
	heads := make(map[string]uint64, len(reqs))
	var last uint64
	for _, r := range reqs {
		sp := streamPrefix(r.stream)
		for i, id := range r.ids {
			v, p := r.first+uint64(i), r.firstPos+uint64(i)
			_ = b.Set(logKey(p), r.bodies[i], nil)
			_ = b.Set(streamKey(sp, v), be8(p), nil)
			_ = b.Set(idKey(id), encodeIDLoc(idLoc{stream: r.stream, version: v, position: p}), nil)
			last = p
		}
		heads[r.stream] = r.res.NextExpected
	}
	for stream, v := range heads {
		_ = b.Set(headKey(stream), be8(v), nil)
	}
	_ = b.Set(keyLast, be8(last), nil)
	err := b.Commit(pebble.Sync)
	_ = b.Close()

	s.mu.Lock()
	if err != nil {
		// Later appends were allocated on top of these: fail them all and
		// refuse writes from now on.
		err = fmt.Errorf("%w: commit: %w", ErrFailed, err)
		s.failed = err
		reqs = append(reqs, s.queue...)
		s.queue = nil
		// Wake whoever waits for synced to move (a DeleteStream waiting
		// for the stream's pending appends): it never will, and they must
		// see the failure instead of waiting for ever.
		close(s.notify)
		s.notify = make(chan struct{})
		s.handOff()
		s.mu.Unlock()
		for _, r := range reqs {
			r.err = err
			close(r.done)
		}
		return
	}
	var committed []string
	for _, r := range reqs {
		for _, id := range r.ids {
			s.recent[id] = s.pending[id].loc
			delete(s.pending, id)
			committed = append(committed, id)
		}
		s.heads[r.stream].synced = r.res.NextExpected
	}
	s.recentLog = append(s.recentLog, committed)
	if len(s.recentLog) > recentCommits {
		for _, id := range s.recentLog[0] {
			delete(s.recent, id)
		}
		s.recentLog[0] = nil
		s.recentLog = s.recentLog[1:]
	}
	s.gen.Add(1)
	s.commits.Add(1)
	s.appended.Add(uint64(len(reqs)))
	s.events.Add(last - reqs[0].firstPos + 1)
	s.synced = last
	close(s.notify)
	s.notify = make(chan struct{})
	s.handOff()
	s.mu.Unlock()
	for _, r := range reqs {
		close(r.done)
	}
}

// handOff ends a leader's turn; the caller holds mu. The first queued
// append, if any, leads the next batch.
func (s *Store) handOff() {
	if len(s.queue) == 0 {
		s.committing = false
		return
	}
	close(s.queue[0].promote)
}

// validate rejects appends that can never succeed, before taking the lock.
func validate(stream string, expected eventstore.ExpectedVersion, events []event.Envelope) error {
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	return nil
}

// lookupStored looks ids up in Pebble's event-ID index, skipping those the
// filter has never seen; a nil entry is a miss. It runs without mu, so the
// caller must complete it with lookupID. An ID added to the filter after
// this check is still pending, or was committed after gen was read, so
// lookupID finds it in pending or recent.
func (s *Store) lookupStored(ids []string) ([]*idLoc, error) {
	out := make([]*idLoc, len(ids))
	for i, id := range ids {
		if !s.filter.mayContain(id) {
			continue
		}
		loc, ok, err := s.getID(id)
		if err != nil {
			return nil, fmt.Errorf("look up ID %q: %w", id, err)
		}
		if ok {
			out[i] = &loc
		}
	}
	return out, nil
}

func (s *Store) getID(id string) (idLoc, bool, error) {
	v, closer, err := s.db.Get(idKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return idLoc{}, false, nil
	}
	if err != nil {
		return idLoc{}, false, err
	}
	defer func() { _ = closer.Close() }() // releases the value; a Get's closer has nothing to report
	loc, err := decodeIDLoc(v)
	return loc, err == nil, err
}

// lookupID finds where an event ID is stored, pending or synced; the caller
// holds mu. stored is the unlocked Pebble lookup, made when the commit
// count was gen. An ID committed since then was moved from pending to
// recent under mu after Pebble had it, so it is either in stored, still
// pending, or in recent; only if more than recentCommits commits happened
// in between is Pebble asked again.
func (s *Store) lookupID(id string, stored *idLoc, gen uint64) (idLoc, *request, bool, error) {
	if p, ok := s.pending[id]; ok {
		return p.loc, p.req, true, nil
	}
	if stored != nil {
		return *stored, nil, true, nil
	}
	now := s.gen.Load()
	if now == gen {
		return idLoc{}, nil, false, nil
	}
	if now-gen <= uint64(len(s.recentLog)) {
		loc, ok := s.recent[id]
		return loc, nil, ok, nil
	}
	loc, ok, err := s.getID(id)
	return loc, nil, ok, err
}

// retried recognises a retry of an earlier append, exactly as memstore
// does. done is false for a new append. For a retry of an append that is
// not yet synced, waits holds the requests to wait for before answering,
// so a retry is never acknowledged before the original is durable.
func (s *Store) retried(stream string, expected eventstore.ExpectedVersion, ids []string, stored []*idLoc, gen, current uint64) (res eventstore.AppendResult, waits []*request, done bool, err error) {
	locs := make([]idLoc, 0, len(ids))
	for i, id := range ids {
		loc, req, ok, err := s.lookupID(id, stored[i], gen)
		if err != nil {
			return res, nil, true, fmt.Errorf("pebblestore: append %s: look up ID %q: %w", stream, id, err)
		}
		if !ok {
			continue
		}
		locs = append(locs, loc)
		if req != nil && (len(waits) == 0 || waits[len(waits)-1] != req) {
			waits = append(waits, req)
		}
	}
	if len(locs) == 0 {
		return res, nil, false, nil
	}
	conflict := func(why string) (eventstore.AppendResult, []*request, bool, error) {
		return eventstore.AppendResult{}, nil, true, fmt.Errorf("pebblestore: append %s: %s: %w", stream, why, eventstore.ErrIdempotencyConflict)
	}
	if len(locs) < len(ids) {
		return conflict(fmt.Sprintf("%d of %d event IDs already stored", len(locs), len(ids)))
	}
	first := locs[0]
	for i, l := range locs {
		if l.stream != stream {
			return conflict(fmt.Sprintf("event ID %q is stored in stream %q", ids[i], l.stream))
		}
		if l.version != first.version+uint64(i) {
			return conflict(fmt.Sprintf("event ID %q is stored out of order", ids[i]))
		}
	}
	last := locs[len(locs)-1]
	res = eventstore.AppendResult{NextExpected: last.version, Position: last.position}
	switch {
	case expected == eventstore.Any, expected == eventstore.StreamExists:
		return res, waits, true, nil
	case expected == eventstore.NoStream && first.version == 1:
		return res, waits, true, nil
	case expected >= 0 && uint64(expected)+1 == first.version:
		return res, waits, true, nil
	}
	return eventstore.AppendResult{}, nil, true, &eventstore.ConcurrencyError{Stream: stream, Expected: expected, Actual: current}
}

// Close implements eventstore.Store: queued appends are committed and
// acknowledged, subscriptions end with ErrClosed, and Pebble is closed once
// nothing uses it. Later calls return ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return eventstore.ErrClosed
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.appends.Wait() // queued appends are committed by their leaders
	s.readers.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("pebblestore: close: %w", err)
	}
	return nil
}

// Stats counts the store's group commits since Open, so a benchmark or an
// operator can see how many appends and events each fsync carried.
type Stats struct {
	// Commits is the number of synced batches (one fsync each).
	Commits uint64
	// Appends is the number of new appends they acknowledged (retries of
	// stored appends are not counted: they write nothing).
	Appends uint64
	// Events is the number of events in those appends.
	Events uint64
}

// Stats returns the counts since Open.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Appends: s.appended.Load(), Events: s.events.Load()}
}

// Version returns the stream's synced version (0 when it does not exist),
// for tests and checkers that inspect final state.
func (s *Store) Version(stream string) uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if h := s.heads[stream]; h != nil {
		return h.synced
	}
	return 0
}

// LastPosition returns the global position of the newest synced event (0
// when empty), so a caller can subscribe from "now" or wait for quiescence.
func (s *Store) LastPosition() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.synced
}
