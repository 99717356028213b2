package pebbleinbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/edkit-dev/edkit/reference/bus"
)

var _ bus.Inbox = (*Inbox)(nil)

// Option configures an Inbox.
type Option func(*config)

type config struct {
	now       func() time.Time
	retention time.Duration
	pebble    func(*pebble.Options)
}

// WithRetention forgets processed records older than d: Begin treats them
// as never processed and Purge deletes them. Choose d longer than the broker
// can redeliver a message (its retention or redelivery window), or a late
// duplicate runs again.
func WithRetention(d time.Duration) Option {
	return func(c *config) { c.retention = d }
}

// WithNow sets the clock that stamps records and judges their age, so a
// scenario controls retention (default time.Now; a harness clock's Now).
func WithNow(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithPebbleOptions lets a caller tune Pebble before Open (a virtual file
// system in tests, say). Turning the WAL off would void durability.
func WithPebbleOptions(tune func(*pebble.Options)) Option {
	return func(c *config) { c.pebble = tune }
}

// Inbox is a durable bus.Inbox, safe for concurrent use.
type Inbox struct {
	cfg config

	// life guards db against Close: operations hold it shared.
	life   sync.RWMutex
	db     *pebble.DB
	closed bool

	// mu makes Begin's check-and-claim atomic.
	mu     sync.Mutex
	claims map[string]struct{}
}

// Open opens (creating if needed) the inbox in dir. Only one process may
// have dir open at a time (Pebble locks it).
func Open(dir string, opts ...Option) (*Inbox, error) {
	cfg := config{now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	po := &pebble.Options{Logger: quietLogger{}}
	if cfg.pebble != nil {
		cfg.pebble(po)
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebbleinbox: open %s: %w", dir, err)
	}
	return &Inbox{cfg: cfg, db: db, claims: make(map[string]struct{})}, nil
}

// enter checks ctx and holds the inbox open (Close waits) until release.
func (in *Inbox) enter(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in.life.RLock()
	if in.closed {
		in.life.RUnlock()
		return nil, ErrClosed
	}
	return in.life.RUnlock, nil
}

// key is the record's key: a prefix, the group's length, the group, the ID,
// so no two (group, id) pairs share a key whatever bytes they hold.
func key(group, msgID string) []byte {
	k := make([]byte, 0, 1+binary.MaxVarintLen64+len(group)+len(msgID))
	k = append(k, 'd')
	k = binary.AppendUvarint(k, uint64(len(group)))
	k = append(k, group...)
	return append(k, msgID...)
}

var (
	prefixDone = []byte{'d'}
	prefixEnd  = []byte{'d' + 1}
)

// Begin claims msgID for group; see bus.Inbox.
func (in *Inbox) Begin(ctx context.Context, group, msgID string) (bool, error) {
	release, err := in.enter(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	k := key(group, msgID)
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, held := in.claims[string(k)]; held {
		return false, fmt.Errorf("inbox %s/%s: %w", group, msgID, bus.ErrInFlight)
	}
	done, err := in.processed(k)
	if err != nil {
		return false, fmt.Errorf("pebbleinbox: begin %s/%s: %w", group, msgID, err)
	}
	if done {
		return false, nil
	}
	in.claims[string(k)] = struct{}{}
	return true, nil
}

// Done records msgID as processed, durably, and releases the claim. When
// the write fails the claim is released too, so a redelivery can run the
// handler again rather than find the message in flight forever.
func (in *Inbox) Done(ctx context.Context, group, msgID string) error {
	release, err := in.enter(ctx)
	if err != nil {
		return err
	}
	defer release()
	k := key(group, msgID)
	var at [8]byte
	binary.BigEndian.PutUint64(at[:], uint64(in.cfg.now().UnixNano()))
	err = in.db.Set(k, at[:], pebble.Sync)
	in.mu.Lock()
	delete(in.claims, string(k))
	in.mu.Unlock()
	if err != nil {
		return fmt.Errorf("pebbleinbox: done %s/%s: %w", group, msgID, err)
	}
	return nil
}

// Abort releases the claim without recording the message.
func (in *Inbox) Abort(ctx context.Context, group, msgID string) error {
	release, err := in.enter(ctx)
	if err != nil {
		return err
	}
	defer release()
	in.mu.Lock()
	delete(in.claims, string(key(group, msgID)))
	in.mu.Unlock()
	return nil
}

// Processed reports whether msgID is recorded as done for group (and not
// past the retention), for tests and checkers.
func (in *Inbox) Processed(ctx context.Context, group, msgID string) (bool, error) {
	release, err := in.enter(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return in.processed(key(group, msgID))
}

func (in *Inbox) processed(k []byte) (bool, error) {
	v, closer, err := in.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer func() { _ = closer.Close() }()
	if len(v) != 8 {
		return false, fmt.Errorf("record %q: %w", k, ErrCorrupt)
	}
	return !in.expired(v), nil
}

// expired reports whether a record's done time is past the retention.
func (in *Inbox) expired(v []byte) bool {
	if in.cfg.retention <= 0 {
		return false
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	return in.cfg.now().Sub(at) > in.cfg.retention
}

// Purge deletes the records past the retention and returns how many; with
// no retention it deletes nothing. It is safe beside other calls: a record
// Purge deletes already counted as absent.
func (in *Inbox) Purge(ctx context.Context) (int, error) {
	release, err := in.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	if in.cfg.retention <= 0 {
		return 0, nil
	}
	it, err := in.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: prefixDone, UpperBound: prefixEnd})
	if err != nil {
		return 0, fmt.Errorf("pebbleinbox: purge: %w", err)
	}
	b := in.db.NewBatch()
	defer func() { _ = b.Close() }()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			_ = it.Close()
			return 0, err
		}
		if len(it.Value()) == 8 && in.expired(it.Value()) {
			if err := b.Delete(it.Key(), nil); err != nil {
				_ = it.Close()
				return 0, err
			}
			n++
		}
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("pebbleinbox: purge: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("pebbleinbox: purge: %w", err)
	}
	return n, nil
}

// Close releases the inbox, waiting for calls in progress; later calls,
// Close included, return ErrClosed.
func (in *Inbox) Close() error {
	in.life.Lock()
	defer in.life.Unlock()
	if in.closed {
		return ErrClosed
	}
	in.closed = true
	if err := in.db.Close(); err != nil {
		return fmt.Errorf("pebbleinbox: close: %w", err)
	}
	return nil
}

// quietLogger drops Pebble's informational lines (WAL replay on open is
// routine) and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }

func (quietLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }
