package pebblestore

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

const (
	// subBuffer is the per-subscription channel size: small, so memory does
	// not grow with a slow subscriber.
	subBuffer = 16
	// subBatch is how many events a subscription reads per pass.
	subBatch = 256
)

// enter registers a reader of db, so Close does not close Pebble under it.
// It returns the synced watermark and the head of stream (nil if none).
func (s *Store) enter(stream string) (synced uint64, h head, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, head{}, eventstore.ErrClosed
	}
	if p := s.heads[stream]; p != nil {
		h = *p
	}
	s.readers.Add(1)
	return s.synced, h, nil
}

// window clips [from, from+limit) to [1, end]; ok is false when empty.
func window(from uint64, limit int, end uint64) (lo, hi uint64, ok bool) {
	if from == 0 {
		from = 1
	}
	if from > end {
		return 0, 0, false
	}
	hi = end
	if limit > 0 && uint64(limit) <= end-from {
		hi = from + uint64(limit) - 1
	}
	return from, hi, true
}

// ReadStream implements eventstore.Store. It sees synced events only.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, h, err := s.enter(stream)
	if err != nil {
		return nil, err
	}
	defer s.readers.Done()
	if h.synced == 0 {
		return nil, fmt.Errorf("pebblestore: read %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	out := []event.Envelope{}
	lo, hi, ok := window(from, limit, h.synced)
	if !ok {
		return out, nil
	}
	sp := streamPrefix(stream)
	idx, err := s.db.NewIter(&pebble.IterOptions{LowerBound: streamKey(sp, lo), UpperBound: streamKey(sp, hi+1)})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: read %s: %w", stream, err)
	}
	defer func() { _ = idx.Close() }() // read-only: an iterator error surfaces through its Error, checked below
	logIt, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixLog, UpperBound: prefixEnd(prefixLog)})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: read %s: %w", stream, err)
	}
	defer func() { _ = logIt.Close() }() // as above
	want := lo
	for ok := idx.First(); ok; ok = idx.Next() {
		k, v := idx.Key(), idx.Value()
		if len(v) != 8 || binary.BigEndian.Uint64(k[len(k)-8:]) != want {
			return nil, fmt.Errorf("pebblestore: read %s: index entry for version %d: %w", stream, want, ErrCorrupt)
		}
		key := logKey(binary.BigEndian.Uint64(v))
		if !logIt.SeekGE(key) || string(logIt.Key()) != string(key) {
			return nil, fmt.Errorf("pebblestore: read %s: version %d points at a missing position: %w", stream, want, ErrCorrupt)
		}
		e, err := decodeEnvelope(binary.BigEndian.Uint64(v), logIt.Value())
		if err != nil {
			return nil, fmt.Errorf("pebblestore: read %s: %w", stream, err)
		}
		out = append(out, e)
		want++
	}
	if err := idx.Error(); err != nil {
		return nil, fmt.Errorf("pebblestore: read %s: %w", stream, err)
	}
	if want != hi+1 {
		return nil, fmt.Errorf("pebblestore: read %s: versions %d..%d missing: %w", stream, want, hi, ErrCorrupt)
	}
	return out, nil
}

// ReadAll implements eventstore.Store. It sees synced events only.
func (s *Store) ReadAll(ctx context.Context, from uint64, limit int) ([]event.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	synced, _, err := s.enter("")
	if err != nil {
		return nil, err
	}
	defer s.readers.Done()
	out, err := s.readLog(from, limit, synced)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: read all: %w", err)
	}
	return out, nil
}

// readLog reads up to limit events from position from, never past synced;
// the caller is registered in readers. Gaps are reported as corruption.
func (s *Store) readLog(from uint64, limit int, synced uint64) ([]event.Envelope, error) {
	out := []event.Envelope{}
	lo, hi, ok := window(from, limit, synced)
	if !ok {
		return out, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: logKey(lo), UpperBound: logKey(hi + 1)})
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }() // read-only: iteration errors are checked through it.Error
	want := lo
	for ok := it.First(); ok; ok = it.Next() {
		pos := binary.BigEndian.Uint64(it.Key()[len(prefixLog):])
		if pos != want {
			return nil, fmt.Errorf("position %d missing: %w", want, ErrCorrupt)
		}
		e, err := decodeEnvelope(pos, it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		want++
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	if want != hi+1 {
		return nil, fmt.Errorf("positions %d..%d missing: %w", want, hi, ErrCorrupt)
	}
	return out, nil
}

// SubscribeAll implements eventstore.Store. A goroutine per subscription
// reads the log by position up to the synced watermark and blocks on a small
// channel, so catch-up and live delivery are one loop: the switch-over
// cannot skip or repeat, and a slow subscriber never holds up writers.
func (s *Store) SubscribeAll(ctx context.Context, from uint64) (*eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, _, err := s.enter(""); err != nil {
		return nil, err
	}
	if from == 0 {
		from = 1
	}
	return eventstore.Feed(subBuffer, func(out chan<- event.Envelope) error {
		return s.feed(ctx, from, out)
	}, s.readers.Done), nil
}

// feed delivers events from position next until ctx is done, the store
// closes or a read fails, and returns which of these happened.
func (s *Store) feed(ctx context.Context, next uint64, out chan<- event.Envelope) error {
	for {
		s.mu.RLock()
		closed, synced, wake := s.closed, s.synced, s.notify
		s.mu.RUnlock()
		if closed {
			return eventstore.ErrClosed
		}
		batch, err := s.readLog(next, subBatch, synced)
		if err != nil {
			return fmt.Errorf("pebblestore: subscription: %w", err)
		}
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
