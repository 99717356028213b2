package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

var _ eventstore.Store = (*Store)(nil)

const (
	// defaultSchema keeps the store's tables out of public, where a user's
	// own "events" table may already live.
	defaultSchema = "eventstore"
	// defaultPoll bounds how long a subscriber waits when a notification
	// is lost (listener reconnecting, another store's NOTIFY dropped).
	defaultPoll = 500 * time.Millisecond
	// appendAttempts bounds retries after losing a race on a unique
	// constraint (only possible for Any/StreamExists or in the unsafe test
	// mode, since appends serialize on the head row).
	appendAttempts = 10
	// subBuffer is the per-subscription channel size: small, so memory does
	// not grow with a slow subscriber.
	subBuffer = 16
	// subBatch is how many events a subscription reads per query.
	subBatch = 256
	// uniqueViolation is PostgreSQL's SQLSTATE for a unique constraint.
	uniqueViolation = "23505"
)

// schemaName is what WithSchema accepts: short enough that the NOTIFY
// channel name derived from it stays under PostgreSQL's 63-byte limit.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,39}$`)

// Option configures a Store.
type Option func(*Store)

// WithSchema puts the store's tables in schema (created if missing), so
// several stores, or tests, can share one database in isolation.
func WithSchema(schema string) Option { return func(s *Store) { s.schema = schema } }

// WithNow sets the clock that stamps Envelope.Time (default time.Now), so
// tests and scenarios control it. PostgreSQL keeps microseconds.
func WithNow(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithPollInterval sets how often an idle subscription re-reads when no
// notification arrives (default 500ms): the fallback that keeps it live
// while the LISTEN connection is down.
func WithPollInterval(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.poll = d
		}
	}
}

// WithMaxConns caps the connection pool (default pgxpool's: 4 or the
// number of CPUs). Subscriptions listen on one extra connection.
func WithMaxConns(n int32) Option { return func(s *Store) { s.maxConns = n } }

// Store is an eventstore.Store on PostgreSQL, safe for concurrent use and
// for use by several processes on the same schema.
type Store struct {
	schema   string
	now      func() time.Time
	poll     time.Duration
	maxConns int32
	// unsafeSequence drops the gap guard (positions from a sequence, no
	// head lock). Only tests set it, to prove the gap test can fail.
	unsafeSequence bool
	// noStreamLock drops the per-stream lock. Only tests set it, to prove
	// the delete race test can fail.
	noStreamLock bool

	pool    *pgxpool.Pool
	q       queries
	channel string

	ctx    context.Context // cancelled by Close; ends subscriptions
	cancel context.CancelFunc

	mu     sync.RWMutex
	closed bool
	ops    sync.WaitGroup // in-flight calls and subscription goroutines

	wakeMu sync.Mutex
	wake   chan struct{} // closed and replaced on every known append

	listenOnce sync.Once
}

// New connects to connString, creates the schema if needed, and returns
// the store. The caller must Close it.
func New(ctx context.Context, connString string, opts ...Option) (*Store, error) {
	s := &Store{schema: defaultSchema, now: time.Now, poll: defaultPoll, wake: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if !schemaName.MatchString(s.schema) {
		return nil, fmt.Errorf("pgstore: new: %q (want [a-z_][a-z0-9_]*, at most 40 bytes): %w", s.schema, ErrBadSchema)
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("pgstore: new: %w", err)
	}
	if s.maxConns > 0 {
		cfg.MaxConns = s.maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: new: %w", err)
	}
	s.pool = pool
	s.q = newQueries(s.schema, s.unsafeSequence)
	s.channel = s.schema + "_appended"
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: new: create schema %s: %w", s.schema, err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// begin registers an in-flight call, or reports that the store is closed.
func (s *Store) begin() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return eventstore.ErrClosed
	}
	s.ops.Add(1)
	return nil
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...event.Envelope) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := validate(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := s.begin(); err != nil {
		return eventstore.AppendResult{}, err
	}
	defer s.ops.Done()
	for attempt := 0; attempt < appendAttempts; attempt++ {
		res, err := s.appendOnce(ctx, stream, expected, events)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != uniqueViolation {
			if err == nil {
				s.broadcast()
			}
			return res, err
		}
		// Lost a race on a constraint: another append landed between our
		// read and our insert. Try again; the next attempt sees it and
		// classifies it (a retry, a conflict, or a wrong version).
	}
	return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: %w", stream, ErrRetriesExhausted)
}

// appendOnce runs one append transaction.
func (s *Store) appendOnce(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events []event.Envelope) (eventstore.AppendResult, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: begin: %w", stream, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	last, state, stored, err := s.lockAndRead(ctx, tx, stream, events)
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: %w", stream, err)
	}
	current := state.Last
	if res, done, err := retried(stream, expected, events, stored, current); done {
		return res, err
	}
	if err := state.Check(stream, expected); err != nil {
		return eventstore.AppendResult{}, err
	}

	positions := make([]int64, len(events))
	if s.unsafeSequence {
		rows, err := tx.Query(ctx, s.q.nextPositions, len(events))
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: allocate: %w", stream, err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: allocate: %w", stream, err)
		}
		copy(positions, got)
	} else {
		for i := range positions {
			positions[i] = last + int64(i) + 1
		}
	}

	at := s.now().Truncate(time.Microsecond)
	rows := make([][]any, len(events))
	for i, e := range events {
		var meta any
		if e.Metadata != nil {
			b, err := json.Marshal(e.Metadata)
			if err != nil {
				return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: metadata of %s: %w", stream, e.ID, err)
			}
			meta = b
		}
		var data any
		if e.Data != nil {
			data = []byte(e.Data)
		}
		rows[i] = []any{positions[i], stream, int64(current) + int64(i) + 1, e.ID, e.Type, data, meta, int32(e.SchemaVersion), at}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{s.schema, "events"}, eventColumns, pgx.CopyFromRows(rows)); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: insert: %w", stream, err)
	}
	lastPos := positions[len(positions)-1]
	if !s.unsafeSequence {
		if _, err := tx.Exec(ctx, s.q.setHead, lastPos); err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: advance head: %w", stream, err)
		}
	}
	// NOTIFY is transactional: listeners hear it only once the events are
	// visible, and never for a rolled-back append.
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", s.channel, fmt.Sprint(lastPos)); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: notify: %w", stream, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: commit: %w", stream, err)
	}
	return eventstore.AppendResult{NextExpected: current + uint64(len(events)), Position: uint64(lastPos)}, nil
}

// lockAndRead is the first round trip of an append, pipelined: it takes
// the stream's lock, then the head row (the gap guard; see doc.go), and
// only then reads the stream's state (last version and metadata) and where
// the events' IDs are already stored. Holding both locks until commit,
// the state it reads cannot change before the append commits: a delete or
// metadata change of the stream waits for it, and so does every append.
// last is the head's last position (0 in the unsafe test mode).
func (s *Store) lockAndRead(ctx context.Context, tx pgx.Tx, stream string, events []event.Envelope) (last int64, state eventstore.StreamState, stored map[string]storedEvent, err error) {
	idList := make([]string, len(events))
	for i, e := range events {
		idList[i] = e.ID
	}
	b := &pgx.Batch{}
	if !s.noStreamLock {
		b.Queue("SELECT pg_advisory_xact_lock($1)", s.streamKey(stream))
	}
	if !s.unsafeSequence {
		b.Queue(s.q.lockHead)
	}
	b.Queue(s.q.streamState, stream)
	b.Queue(s.q.storedIDs, idList)
	br := tx.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if !s.noStreamLock {
		if _, err = br.Exec(); err != nil {
			return 0, state, nil, fmt.Errorf("lock stream: %w", err)
		}
	}
	if !s.unsafeSequence {
		if err = br.QueryRow().Scan(&last); err != nil {
			return 0, state, nil, fmt.Errorf("lock head: %w", err)
		}
	}
	if state, err = scanState(br.QueryRow()); err != nil {
		return 0, state, nil, fmt.Errorf("read state: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return 0, state, nil, fmt.Errorf("look up IDs: %w", err)
	}
	stored = make(map[string]storedEvent)
	var (
		id, st   string
		ver, pos int64
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &st, &ver, &pos}, func() error {
		stored[id] = storedEvent{stream: st, version: uint64(ver), position: uint64(pos)}
		return nil
	})
	if err != nil {
		return 0, state, nil, fmt.Errorf("look up IDs: %w", err)
	}
	return last, state, stored, nil
}

// scanState decodes a row of the streamState query.
func scanState(row pgx.Row) (eventstore.StreamState, error) {
	var (
		last   int64
		mc, tb string
	)
	if err := row.Scan(&last, &mc, &tb); err != nil {
		return eventstore.StreamState{}, err
	}
	md, err := parseMetadata(mc, tb)
	if err != nil {
		return eventstore.StreamState{}, err
	}
	return eventstore.StreamState{Last: uint64(last), Metadata: md}, nil
}

// storedEvent is where an already-stored event ID landed.
type storedEvent struct {
	stream            string
	version, position uint64
}

// retried recognises a retry of an earlier append, with memstore's rules:
// done is false when no event ID is stored yet (a new append). When every
// ID is stored in this stream consecutively and in order, the earlier
// result is returned if the expectation agrees with where they landed, else
// a *ConcurrencyError. Any other overlap is an idempotency conflict.
func retried(stream string, expected eventstore.ExpectedVersion, events []event.Envelope, stored map[string]storedEvent, current uint64) (eventstore.AppendResult, bool, error) {
	if len(stored) == 0 {
		return eventstore.AppendResult{}, false, nil
	}
	conflict := func(why string) (eventstore.AppendResult, bool, error) {
		return eventstore.AppendResult{}, true, fmt.Errorf("pgstore: append %s: %s: %w", stream, why, eventstore.ErrIdempotencyConflict)
	}
	if len(stored) < len(events) {
		return conflict(fmt.Sprintf("%d of %d event IDs already stored", len(stored), len(events)))
	}
	first := stored[events[0].ID]
	for i, e := range events {
		got := stored[e.ID]
		if got.stream != stream {
			return conflict(fmt.Sprintf("event ID %q is stored in stream %q", e.ID, got.stream))
		}
		if got.version != first.version+uint64(i) {
			return conflict(fmt.Sprintf("event ID %q is stored out of order", e.ID))
		}
	}
	last := stored[events[len(events)-1].ID]
	res := eventstore.AppendResult{NextExpected: last.version, Position: last.position}
	switch {
	case expected == eventstore.Any, expected == eventstore.StreamExists:
		return res, true, nil
	case expected == eventstore.NoStream && first.version == 1:
		return res, true, nil
	case expected >= 0 && uint64(expected)+1 == first.version:
		return res, true, nil
	}
	return eventstore.AppendResult{}, true, &eventstore.ConcurrencyError{Stream: stream, Expected: expected, Actual: current}
}

// validate rejects appends that can never succeed, before any round trip.
func validate(stream string, expected eventstore.ExpectedVersion, events []event.Envelope) error {
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	return nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	return s.readStream(ctx, s.q.readStream, stream, from, limit)
}

// ReadStreamBackwards implements eventstore.Store.
func (s *Store) ReadStreamBackwards(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	return s.readStream(ctx, s.q.readBackwards, stream, from, limit)
}

// readStream runs one of the stream reads: a single statement that applies
// the stream's metadata and tells a missing or soft-deleted stream apart,
// all in one snapshot.
func (s *Store) readStream(ctx context.Context, sql, stream string, from uint64, limit int) ([]event.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.ops.Done()
	var present bool
	out, err := s.scan(ctx, sql, []any{&present}, stream, bigint(from), limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("pgstore: read %s: %w", stream, err)
	}
	if !present {
		return nil, fmt.Errorf("pgstore: read %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	return out, nil
}

// bigint caps a version or position cursor at what a bigint column holds,
// so End and other huge cursors mean "past the newest".
func bigint(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// ReadAll implements eventstore.Store. No lock is needed: committed
// positions are always a gapless prefix (see doc.go).
func (s *Store) ReadAll(ctx context.Context, from uint64, limit int) ([]event.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.ops.Done()
	out, err := s.readAll(ctx, from, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: read all: %w", err)
	}
	return out, nil
}

func (s *Store) readAll(ctx context.Context, from uint64, limit int) ([]event.Envelope, error) {
	if from == 0 {
		from = 1
	}
	return s.scan(ctx, s.q.readAll, nil, bigint(from), limitArg(limit))
}

// limitArg maps "no limit" (<= 0) to NULL, which LIMIT reads as ALL.
func limitArg(limit int) any {
	if limit <= 0 {
		return nil
	}
	return int64(limit)
}

// scan runs a query whose rows are the columns head points to, then
// eventColumns, and decodes the envelopes. The event columns may all be
// NULL (a LEFT JOIN that matched no event): such a row adds no event, so a
// query can always return its head values.
func (s *Store) scan(ctx context.Context, sql string, head []any, args ...any) ([]event.Envelope, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := []event.Envelope{}
	var (
		pos, ver        pgtype.Int8
		stream, id, typ pgtype.Text
		data, meta      []byte
		schemaVersion   pgtype.Int4
		at              pgtype.Timestamptz
	)
	dest := append(append([]any{}, head...), &pos, &stream, &ver, &id, &typ, &data, &meta, &schemaVersion, &at)
	_, err = pgx.ForEachRow(rows, dest, func() error {
		if !pos.Valid {
			return nil
		}
		c := event.Envelope{
			Position: uint64(pos.Int64), Stream: stream.String, Version: uint64(ver.Int64),
			ID: id.String, Type: typ.String, SchemaVersion: int(schemaVersion.Int32), Time: at.Time,
		}
		if data != nil {
			c.Data = append(json.RawMessage{}, data...)
		}
		if meta != nil {
			if err := json.Unmarshal(meta, &c.Metadata); err != nil {
				return fmt.Errorf("metadata of %s: %w", c.ID, err)
			}
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Close implements eventstore.Store: it ends every subscription, waits for
// in-flight calls, and closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return eventstore.ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.ops.Wait()
	s.pool.Close()
	return nil
}

// LastPosition returns the global position of the newest committed event
// (0 when empty), so a caller can subscribe from "now" or wait for
// quiescence.
func (s *Store) LastPosition(ctx context.Context) (uint64, error) {
	if err := s.begin(); err != nil {
		return 0, err
	}
	defer s.ops.Done()
	var last int64
	if err := s.pool.QueryRow(ctx, s.q.lastPosition).Scan(&last); err != nil {
		return 0, fmt.Errorf("pgstore: last position: %w", err)
	}
	return uint64(last), nil
}
