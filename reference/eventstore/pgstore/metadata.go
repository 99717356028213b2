package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edkit-dev/edkit/reference/eventstore"
)

// withStream runs fn in a transaction that holds stream's advisory lock
// (doc.go), so it serializes with appends, deletes, metadata and snapshot
// writes of the same stream.
func (s *Store) withStream(ctx context.Context, stream string, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if s.noStreamLock {
			return fn(tx)
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", s.streamKey(stream)); err != nil {
			return fmt.Errorf("lock stream: %w", err)
		}
		return fn(tx)
	})
}

// parseMetadata decodes the numeric(20,0) columns, read as text because
// they hold the whole uint64 range.
func parseMetadata(maxCount, truncateBefore string) (eventstore.StreamMetadata, error) {
	mc, err := strconv.ParseUint(maxCount, 10, 64)
	if err != nil {
		return eventstore.StreamMetadata{}, fmt.Errorf("max_count %q: %w", maxCount, err)
	}
	tb, err := strconv.ParseUint(truncateBefore, 10, 64)
	if err != nil {
		return eventstore.StreamMetadata{}, fmt.Errorf("truncate_before %q: %w", truncateBefore, err)
	}
	return eventstore.StreamMetadata{MaxCount: mc, TruncateBefore: tb}, nil
}

// putMetadata upserts stream's metadata inside tx.
func (s *Store) putMetadata(ctx context.Context, tx pgx.Tx, stream string, md eventstore.StreamMetadata) error {
	_, err := tx.Exec(ctx, s.q.setMetadata, stream, strconv.FormatUint(md.MaxCount, 10), strconv.FormatUint(md.TruncateBefore, 10))
	return err
}

// SetStreamMetadata implements eventstore.Store.
func (s *Store) SetStreamMetadata(ctx context.Context, stream string, md eventstore.StreamMetadata) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if stream == "" {
		return fmt.Errorf("pgstore: set metadata: empty stream name: %w", eventstore.ErrInvalidAppend)
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.ops.Done()
	err := s.withStream(ctx, stream, func(tx pgx.Tx) error {
		return s.putMetadata(ctx, tx, stream, md)
	})
	if err != nil {
		return fmt.Errorf("pgstore: set metadata %s: %w", stream, err)
	}
	return nil
}

// StreamMetadata implements eventstore.Store.
func (s *Store) StreamMetadata(ctx context.Context, stream string) (eventstore.StreamMetadata, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.StreamMetadata{}, err
	}
	if err := s.begin(); err != nil {
		return eventstore.StreamMetadata{}, err
	}
	defer s.ops.Done()
	var mc, tb string
	err := s.pool.QueryRow(ctx, s.q.metadata, stream).Scan(&mc, &tb)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.StreamMetadata{}, nil
	}
	if err != nil {
		return eventstore.StreamMetadata{}, fmt.Errorf("pgstore: metadata %s: %w", stream, err)
	}
	md, err := parseMetadata(mc, tb)
	if err != nil {
		return eventstore.StreamMetadata{}, fmt.Errorf("pgstore: metadata %s: %w", stream, err)
	}
	return md, nil
}

// DeleteStream implements eventstore.Store. Under the stream's lock it
// reads the state, checks the expectation, sets TruncateBefore past the
// last version and drops the snapshot, all in one transaction: an append
// to the stream runs wholly before or wholly after it.
func (s *Store) DeleteStream(ctx context.Context, stream string, expected eventstore.ExpectedVersion) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := eventstore.ValidateDelete(stream, expected); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.ops.Done()
	var refused error // not found or wrong version: returned unwrapped by pgstore
	err := s.withStream(ctx, stream, func(tx pgx.Tx) error {
		st, err := scanState(tx.QueryRow(ctx, s.q.streamState, stream))
		if err != nil {
			return fmt.Errorf("read state: %w", err)
		}
		if st.Last == 0 {
			refused = fmt.Errorf("pgstore: delete %s: %w", stream, eventstore.ErrStreamNotFound)
			return nil
		}
		if refused = st.Check(stream, expected); refused != nil {
			return nil
		}
		if err := s.putMetadata(ctx, tx, stream, st.Metadata.Deleted(st.Last)); err != nil {
			return fmt.Errorf("set truncate-before: %w", err)
		}
		if _, err := tx.Exec(ctx, s.q.dropSnapshot, stream); err != nil {
			return fmt.Errorf("drop snapshot: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: delete %s: %w", stream, err)
	}
	return refused
}

// SaveSnapshot implements eventstore.Store. The stream's lock keeps a
// concurrent DeleteStream from dropping the snapshot between the version
// check and the write; the upsert's WHERE keeps the later version when two
// saves race.
func (s *Store) SaveSnapshot(ctx context.Context, snap eventstore.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// What needs no stream state (name, version 0) fails before any I/O.
	if err := eventstore.ValidateSnapshot(snap, math.MaxUint64); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.ops.Done()
	var invalid error
	err := s.withStream(ctx, snap.Stream, func(tx pgx.Tx) error {
		st, err := scanState(tx.QueryRow(ctx, s.q.streamState, snap.Stream))
		if err != nil {
			return fmt.Errorf("read state: %w", err)
		}
		if invalid = eventstore.ValidateSnapshot(snap, st.Last); invalid != nil {
			return nil
		}
		var data any
		if snap.Data != nil {
			data = []byte(snap.Data)
		}
		_, err = tx.Exec(ctx, s.q.saveSnapshot, snap.Stream, int64(snap.Version), snap.Type, int32(snap.SchemaVersion), data, s.now().Truncate(time.Microsecond))
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: save snapshot %s: %w", snap.Stream, err)
	}
	if invalid != nil {
		return fmt.Errorf("pgstore: %w", invalid)
	}
	return nil
}

// LoadSnapshot implements eventstore.Store.
func (s *Store) LoadSnapshot(ctx context.Context, stream string) (eventstore.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.Snapshot{}, err
	}
	if err := s.begin(); err != nil {
		return eventstore.Snapshot{}, err
	}
	defer s.ops.Done()
	snap := eventstore.Snapshot{Stream: stream}
	var (
		version       int64
		schemaVersion int32
		data          []byte
	)
	err := s.pool.QueryRow(ctx, s.q.loadSnapshot, stream).Scan(&version, &snap.Type, &schemaVersion, &data, &snap.Time)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Snapshot{}, fmt.Errorf("pgstore: load snapshot %s: %w", stream, eventstore.ErrSnapshotNotFound)
	}
	if err != nil {
		return eventstore.Snapshot{}, fmt.Errorf("pgstore: load snapshot %s: %w", stream, err)
	}
	snap.Version, snap.SchemaVersion = uint64(version), int(schemaVersion)
	if data != nil {
		snap.Data = append([]byte{}, data...)
	}
	return snap, nil
}
