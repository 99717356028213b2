package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	s.q = newQueries(s.schema)
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

	// The gap guard: hold the head row until commit (see doc.go). Every
	// read below then sees every append committed before ours.
	var last int64
	if !s.unsafeSequence {
		if err := tx.QueryRow(ctx, s.q.lockHead).Scan(&last); err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: lock head: %w", stream, err)
		}
	}

	var current int64
	if err := tx.QueryRow(ctx, s.q.streamVersion, stream).Scan(&current); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("pgstore: append %s: read version: %w", stream, err)
	}
	if res, done, err := s.retried(ctx, tx, stream, expected, events, uint64(current)); done {
		return res, err
	}
	if err := check(stream, expected, uint64(current)); err != nil {
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
		rows[i] = []any{positions[i], stream, current + int64(i) + 1, e.ID, e.Type, data, meta, int32(e.SchemaVersion), at}
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
	return eventstore.AppendResult{NextExpected: uint64(current) + uint64(len(events)), Position: uint64(lastPos)}, nil
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
func (s *Store) retried(ctx context.Context, tx pgx.Tx, stream string, expected eventstore.ExpectedVersion, events []event.Envelope, current uint64) (eventstore.AppendResult, bool, error) {
	idList := make([]string, len(events))
	for i, e := range events {
		idList[i] = e.ID
	}
	rows, err := tx.Query(ctx, s.q.storedIDs, idList)
	if err != nil {
		return eventstore.AppendResult{}, true, fmt.Errorf("pgstore: append %s: look up IDs: %w", stream, err)
	}
	stored := make(map[string]storedEvent)
	var (
		id, st   string
		ver, pos int64
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &st, &ver, &pos}, func() error {
		stored[id] = storedEvent{stream: st, version: uint64(ver), position: uint64(pos)}
		return nil
	})
	if err != nil {
		return eventstore.AppendResult{}, true, fmt.Errorf("pgstore: append %s: look up IDs: %w", stream, err)
	}
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
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.ops.Done()
	if from == 0 {
		from = 1
	}
	out, err := s.scan(ctx, s.q.readStream, stream, int64(from), limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("pgstore: read %s: %w", stream, err)
	}
	if len(out) > 0 {
		return out, nil
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, s.q.streamExists, stream).Scan(&exists); err != nil {
		return nil, fmt.Errorf("pgstore: read %s: %w", stream, err)
	}
	if !exists {
		return nil, fmt.Errorf("pgstore: read %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	return out, nil
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
	return s.scan(ctx, s.q.readAll, int64(from), limitArg(limit))
}

// limitArg maps "no limit" (<= 0) to NULL, which LIMIT reads as ALL.
func limitArg(limit int) any {
	if limit <= 0 {
		return nil
	}
	return int64(limit)
}

// scan runs a query selecting eventColumns and decodes the envelopes.
func (s *Store) scan(ctx context.Context, sql string, args ...any) ([]event.Envelope, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := []event.Envelope{}
	var (
		e             event.Envelope
		ver, pos      int64
		data, meta    []byte
		schemaVersion int32
	)
	_, err = pgx.ForEachRow(rows, []any{&pos, &e.Stream, &ver, &e.ID, &e.Type, &data, &meta, &schemaVersion, &e.Time}, func() error {
		c := e
		c.Position, c.Version, c.SchemaVersion = uint64(pos), uint64(ver), int(schemaVersion)
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
