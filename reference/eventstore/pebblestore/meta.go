package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/edkit-dev/edkit/reference/eventstore"
)

// Stream metadata and snapshots live in their own tables:
//
//	x/<stream> -> max count BE8, truncate-before BE8
//	n/<stream> -> snapshot: version BE8, time BE8, schema version varint, type, data
//
// Metadata is kept in memory too (loaded at Open), because every append
// checks its expectation against it under the allocation lock.

func metaKey(stream string) []byte {
	return append(append(make([]byte, 0, len(prefixMeta)+len(stream)), prefixMeta...), stream...)
}

func snapKey(stream string) []byte {
	return append(append(make([]byte, 0, len(prefixSnap)+len(stream)), prefixSnap...), stream...)
}

func encodeMeta(md eventstore.StreamMetadata) []byte {
	return binary.BigEndian.AppendUint64(be8(md.MaxCount), md.TruncateBefore)
}

func decodeMeta(v []byte) (eventstore.StreamMetadata, error) {
	if len(v) != 16 {
		return eventstore.StreamMetadata{}, fmt.Errorf("stream metadata of %d bytes: %w", len(v), ErrCorrupt)
	}
	return eventstore.StreamMetadata{MaxCount: binary.BigEndian.Uint64(v), TruncateBefore: binary.BigEndian.Uint64(v[8:])}, nil
}

func encodeSnapshot(snap eventstore.Snapshot) []byte {
	b := make([]byte, 0, 16+2*binary.MaxVarintLen64+len(snap.Type)+len(snap.Data))
	b = binary.BigEndian.AppendUint64(b, snap.Version)
	b = binary.BigEndian.AppendUint64(b, uint64(snap.Time.UnixNano()))
	b = binary.AppendVarint(b, int64(snap.SchemaVersion))
	b = appendString(b, snap.Type)
	return append(b, snap.Data...)
}

func decodeSnapshot(stream string, v []byte) (eventstore.Snapshot, error) {
	bad := func() (eventstore.Snapshot, error) {
		return eventstore.Snapshot{}, fmt.Errorf("snapshot of %s: %w", stream, ErrCorrupt)
	}
	if len(v) < 16 {
		return bad()
	}
	snap := eventstore.Snapshot{
		Stream:  stream,
		Version: binary.BigEndian.Uint64(v),
		Time:    time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))),
	}
	sv, n := binary.Varint(v[16:])
	if n <= 0 {
		return bad()
	}
	snap.SchemaVersion = int(sv)
	d := decoder{b: v[16+n:]}
	snap.Type = d.string()
	if d.err != nil {
		return bad()
	}
	snap.Data = append([]byte(nil), d.b...)
	return snap, nil
}

// loadMeta reads the metadata table into memory; Open calls it.
func (s *Store) loadMeta() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixMeta, UpperBound: prefixEnd(prefixMeta)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		md, err := decodeMeta(it.Value())
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("stream %q: %w", it.Key()[len(prefixMeta):], err)
		}
		s.meta[string(it.Key()[len(prefixMeta):])] = md
	}
	return it.Close()
}

// writable reports why the store cannot take a write; the caller holds mu.
func (s *Store) writable() error {
	if s.closed {
		return eventstore.ErrClosed
	}
	return s.failed
}

// SetStreamMetadata implements eventstore.Store. The metadata is synced
// before it applies, so a read never honours metadata a crash could undo.
func (s *Store) SetStreamMetadata(ctx context.Context, stream string, md eventstore.StreamMetadata) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if stream == "" {
		return fmt.Errorf("pebblestore: set metadata: empty stream name: %w", eventstore.ErrInvalidAppend)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if err := s.db.Set(metaKey(stream), encodeMeta(md), pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: set metadata %s: %w", stream, err)
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

// DeleteStream implements eventstore.Store. It waits until none of the
// stream's appends is still waiting for its fsync, then, holding the
// allocation lock so no append slips in, writes truncate-before past the
// last version and removes the snapshot in one synced batch. Waiting first
// matters after a crash: truncate-before must never be durable above events
// that were not, or the recreated stream's first versions would be hidden.
// Holding the lock over an fsync stalls appends for one sync; deletes are
// rare enough for that.
func (s *Store) DeleteStream(ctx context.Context, stream string, expected eventstore.ExpectedVersion) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := eventstore.ValidateDelete(stream, expected); err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	for {
		s.mu.Lock()
		if err := s.writable(); err != nil {
			s.mu.Unlock()
			return err
		}
		h := s.heads[stream]
		if h == nil || h.allocated == 0 {
			s.mu.Unlock()
			return fmt.Errorf("pebblestore: delete %s: %w", stream, eventstore.ErrStreamNotFound)
		}
		if h.allocated != h.synced {
			wake := s.notify
			s.mu.Unlock()
			select {
			case <-wake:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := s.deleteLocked(stream, expected, h.synced)
		s.mu.Unlock()
		return err
	}
}

// deleteLocked is DeleteStream's write; the caller holds snapMu and mu.
func (s *Store) deleteLocked(stream string, expected eventstore.ExpectedVersion, last uint64) error {
	st := eventstore.StreamState{Last: last, Metadata: s.meta[stream]}
	if err := st.Check(stream, expected); err != nil {
		return err
	}
	md := st.Metadata.Deleted(last)
	b := s.db.NewBatch()
	defer func() { _ = b.Close() }() // a batch's Close only releases memory
	_ = b.Set(metaKey(stream), encodeMeta(md), nil)
	_ = b.Delete(snapKey(stream), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: delete %s: %w", stream, err)
	}
	s.meta[stream] = md
	return nil
}

// SaveSnapshot implements eventstore.Store. The version is checked against
// the synced stream head: a snapshot never describes events a crash could
// still lose.
func (s *Store) SaveSnapshot(ctx context.Context, snap eventstore.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	s.mu.RLock()
	failed := s.failed
	s.mu.RUnlock()
	if failed != nil {
		return failed
	}
	_, h, err := s.enter(snap.Stream)
	if err != nil {
		return err
	}
	defer s.readers.Done()
	if err := eventstore.ValidateSnapshot(snap, h.synced); err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	old, err := s.loadSnapshot(snap.Stream)
	switch {
	case err == nil && old.Version > snap.Version:
		return nil
	case err != nil && !errors.Is(err, eventstore.ErrSnapshotNotFound):
		return fmt.Errorf("pebblestore: save snapshot %s: %w", snap.Stream, err)
	}
	snap.Time = s.now()
	if err := s.db.Set(snapKey(snap.Stream), encodeSnapshot(snap), pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: save snapshot %s: %w", snap.Stream, err)
	}
	return nil
}

// LoadSnapshot implements eventstore.Store.
func (s *Store) LoadSnapshot(ctx context.Context, stream string) (eventstore.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.Snapshot{}, err
	}
	if _, _, err := s.enter(""); err != nil {
		return eventstore.Snapshot{}, err
	}
	defer s.readers.Done()
	snap, err := s.loadSnapshot(stream)
	if err != nil {
		return eventstore.Snapshot{}, fmt.Errorf("pebblestore: load snapshot %s: %w", stream, err)
	}
	return snap, nil
}

// loadSnapshot reads a snapshot; the caller is registered in readers.
func (s *Store) loadSnapshot(stream string) (eventstore.Snapshot, error) {
	v, closer, err := s.db.Get(snapKey(stream))
	if errors.Is(err, pebble.ErrNotFound) {
		return eventstore.Snapshot{}, eventstore.ErrSnapshotNotFound
	}
	if err != nil {
		return eventstore.Snapshot{}, err
	}
	defer func() { _ = closer.Close() }() // releases the value
	return decodeSnapshot(stream, v)
}
