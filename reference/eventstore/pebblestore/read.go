package pebblestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"

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
	synced, h, _, err = s.enterStream(stream)
	return synced, h, err
}

// enterStream is enter that also returns the stream's metadata.
func (s *Store) enterStream(stream string) (synced uint64, h head, md eventstore.StreamMetadata, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, head{}, md, eventstore.ErrClosed
	}
	if p := s.heads[stream]; p != nil {
		h = *p
	}
	s.readers.Add(1)
	return s.synced, h, s.meta[stream], nil
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
	return s.readStream(ctx, stream, from, limit, false)
}

// ReadStreamBackwards implements eventstore.Store. It sees synced events only.
func (s *Store) ReadStreamBackwards(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	return s.readStream(ctx, stream, from, limit, true)
}

func (s *Store) readStream(ctx context.Context, stream string, from uint64, limit int, backwards bool) ([]event.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, h, md, err := s.enterStream(stream)
	if err != nil {
		return nil, err
	}
	defer s.readers.Done()
	st := eventstore.StreamState{Last: h.synced, Metadata: md}
	if !st.Exists() {
		return nil, fmt.Errorf("pebblestore: read %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	first := md.FirstVisible(h.synced)
	var lo, hi uint64
	if backwards {
		hi = min(from, h.synced)
		if hi < first {
			return []event.Envelope{}, nil
		}
		lo = first
		if limit > 0 && hi-first >= uint64(limit) {
			lo = hi - uint64(limit) + 1
		}
	} else {
		var ok bool
		if lo, hi, ok = window(max(from, first), limit, h.synced); !ok {
			return []event.Envelope{}, nil
		}
	}
	out, err := s.readVersions(stream, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: read %s: %w", stream, err)
	}
	if backwards {
		slices.Reverse(out)
	}
	return out, nil
}

// readVersions reads versions lo..hi of stream, all of which must exist;
// the caller is registered in readers.
func (s *Store) readVersions(stream string, lo, hi uint64) ([]event.Envelope, error) {
	out := make([]event.Envelope, 0, hi-lo+1)
	sp := streamPrefix(stream)
	idx, err := s.db.NewIter(&pebble.IterOptions{LowerBound: streamKey(sp, lo), UpperBound: streamKey(sp, hi+1)})
	if err != nil {
		return nil, err
	}
	defer func() { _ = idx.Close() }() // read-only: an iterator error surfaces through its Error, checked below
	logIt, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixLog, UpperBound: prefixEnd(prefixLog)})
	if err != nil {
		return nil, err
	}
	defer func() { _ = logIt.Close() }() // as above
	want := lo
	for ok := idx.First(); ok; ok = idx.Next() {
		k, v := idx.Key(), idx.Value()
		if len(v) != 8 || binary.BigEndian.Uint64(k[len(k)-8:]) != want {
			return nil, fmt.Errorf("index entry for version %d: %w", want, ErrCorrupt)
		}
		key := logKey(binary.BigEndian.Uint64(v))
		if !logIt.SeekGE(key) || string(logIt.Key()) != string(key) {
			return nil, fmt.Errorf("version %d points at a missing position: %w", want, ErrCorrupt)
		}
		e, err := decodeEnvelope(binary.BigEndian.Uint64(v), logIt.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		want++
	}
	if err := idx.Error(); err != nil {
		return nil, err
	}
	if want != hi+1 {
		return nil, fmt.Errorf("versions %d..%d missing: %w", want, hi, ErrCorrupt)
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
// cannot skip or repeat, and a slow subscriber never holds up writers. The
// filter is applied as the log is read, so filtered-out events never reach
// the channel.
func (s *Store) SubscribeAll(ctx context.Context, from uint64, opts ...eventstore.SubscribeOption) (*eventstore.Subscription, error) {
	filter := eventstore.SubscribeOptions(opts...).Filter
	if from == 0 {
		from = 1
	}
	return s.subscribe(ctx, from, func(next, synced uint64) ([]event.Envelope, uint64, error) {
		batch, err := s.readLog(next, subBatch, synced)
		if err != nil || len(batch) == 0 {
			return nil, next, err
		}
		after := batch[len(batch)-1].Position + 1
		if filter.Empty() {
			return batch, after, nil
		}
		kept := batch[:0]
		for _, e := range batch {
			if filter.Match(e) {
				kept = append(kept, e)
			}
		}
		return kept, after, nil
	})
}

// SubscribeStream implements eventstore.Store: the same loop over the
// stream's synced versions. Catch-up starts at the first version the
// metadata leaves visible.
func (s *Store) SubscribeStream(ctx context.Context, stream string, from uint64) (*eventstore.Subscription, error) {
	if stream == "" {
		return nil, fmt.Errorf("pebblestore: subscribe: empty stream name: %w", eventstore.ErrInvalidAppend)
	}
	s.mu.RLock()
	var last uint64
	if h := s.heads[stream]; h != nil {
		last = h.synced
	}
	from = max(from, s.meta[stream].FirstVisible(last))
	s.mu.RUnlock()
	return s.subscribe(ctx, from, func(next, _ uint64) ([]event.Envelope, uint64, error) {
		s.mu.RLock()
		var synced uint64
		if h := s.heads[stream]; h != nil {
			synced = h.synced
		}
		s.mu.RUnlock()
		if next > synced {
			return nil, next, nil
		}
		batch, err := s.readVersions(stream, next, min(synced, next+subBatch-1))
		if err != nil {
			return nil, next, err
		}
		return batch, next + uint64(len(batch)), nil
	})
}

// batchFunc reads what a subscription sends after cursor next, given the
// synced watermark, and returns the cursor to continue from.
type batchFunc func(next, synced uint64) ([]event.Envelope, uint64, error)

func (s *Store) subscribe(ctx context.Context, from uint64, batch batchFunc) (*eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, _, err := s.enter(""); err != nil {
		return nil, err
	}
	return eventstore.Feed(subBuffer, func(out chan<- event.Envelope) error {
		return s.feed(ctx, from, batch, out)
	}, s.readers.Done), nil
}

// feed delivers batches from cursor next until ctx is done, the store
// closes or a read fails. The wake channel is taken before the synced
// watermark is read, so a commit in between closes it.
func (s *Store) feed(ctx context.Context, next uint64, batchFn batchFunc, out chan<- event.Envelope) error {
	return eventstore.PollFeed(ctx, s.done, next, func(next uint64) ([]event.Envelope, uint64, <-chan struct{}, error) {
		s.mu.RLock()
		closed, synced, wake := s.closed, s.synced, s.notify
		s.mu.RUnlock()
		if closed {
			return nil, next, nil, eventstore.ErrClosed
		}
		batch, after, err := batchFn(next, synced)
		if err != nil {
			return nil, next, nil, fmt.Errorf("pebblestore: subscription: %w", err)
		}
		return batch, after, wake, nil
	}, out)
}
