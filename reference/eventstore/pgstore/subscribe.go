package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// reader reads the batch after cursor next for a subscription: the events
// to send, the cursor to continue from once they are sent, and whether more
// may be waiting (a full batch) so the feed reads again without sleeping.
type reader func(ctx context.Context, next uint64) (batch []event.Envelope, after uint64, more bool, err error)

// SubscribeAll implements eventstore.Store. A goroutine per subscription
// reads by position and blocks on a small channel, so catch-up and live
// delivery are one loop; positions are a gapless committed prefix (doc.go),
// so the loop can neither skip nor repeat. A filter runs in the query, which
// scans no further than the safe head (doc.go).
func (s *Store) SubscribeAll(ctx context.Context, from uint64, opts ...eventstore.SubscribeOption) (*eventstore.Subscription, error) {
	filter := eventstore.SubscribeOptions(opts...).Filter
	if from == 0 {
		from = 1
	}
	read := s.readAllBatch
	if !filter.Empty() {
		read = s.filteredReader(filter)
	}
	return s.subscribe(ctx, from, read)
}

// readAllBatch reads the next positions unfiltered. Every position up to
// the newest returned is committed, so the cursor moves just past it.
func (s *Store) readAllBatch(ctx context.Context, next uint64) ([]event.Envelope, uint64, bool, error) {
	batch, err := s.readAll(ctx, next, subBatch)
	if err != nil || len(batch) == 0 {
		return nil, next, false, err
	}
	return batch, batch[len(batch)-1].Position + 1, len(batch) == subBatch, nil
}

// filteredReader reads the next matching positions. The query returns the
// safe head it scanned up to; when the batch is not full every position up
// to the head was scanned, matched or not, and the cursor moves past the
// head. It never moves past a position not known to be committed, so an
// event that commits later cannot be skipped.
func (s *Store) filteredReader(f eventstore.Filter) reader {
	prefixes := append([]string{}, f.StreamPrefixes...)
	types := append([]string{}, f.EventTypes...)
	return func(ctx context.Context, next uint64) ([]event.Envelope, uint64, bool, error) {
		var head int64
		batch, err := s.scan(ctx, s.q.readFiltered, []any{&head}, bigint(next), subBatch, prefixes, types)
		if err != nil {
			return nil, next, false, err
		}
		if len(batch) == subBatch {
			return batch, batch[len(batch)-1].Position + 1, true, nil
		}
		after := max(next, uint64(head)+1)
		return batch, after, false, nil
	}
}

// SubscribeStream implements eventstore.Store: the same loop as
// SubscribeAll over the stream's versions, which commit in order because
// appends to a stream serialize on its lock. Catch-up starts at the first
// version the metadata leaves visible when the subscription starts.
func (s *Store) SubscribeStream(ctx context.Context, stream string, from uint64) (*eventstore.Subscription, error) {
	if stream == "" {
		return nil, fmt.Errorf("pgstore: subscribe: empty stream name: %w", eventstore.ErrInvalidAppend)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	st, err := scanState(s.pool.QueryRow(ctx, s.q.streamState, stream))
	s.ops.Done()
	if err != nil {
		return nil, fmt.Errorf("pgstore: subscribe %s: %w", stream, err)
	}
	if first := st.Metadata.FirstVisible(st.Last); from < first {
		from = first
	}
	return s.subscribe(ctx, from, func(ctx context.Context, next uint64) ([]event.Envelope, uint64, bool, error) {
		batch, err := s.scan(ctx, s.q.readVersions, nil, stream, bigint(next), subBatch)
		if err != nil || len(batch) == 0 {
			return nil, next, false, err
		}
		return batch, batch[len(batch)-1].Version + 1, len(batch) == subBatch, nil
	})
}

// subscribe starts a subscription's goroutine over read from cursor from,
// and the store's listener if it is not running yet.
func (s *Store) subscribe(ctx context.Context, from uint64, read reader) (*eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	s.listenOnce.Do(func() {
		s.ops.Add(1) // s.begin holds one for us, so the counter is not zero
		go func() {
			defer s.ops.Done()
			s.listen()
		}()
	})
	return eventstore.Feed(subBuffer, func(out chan<- event.Envelope) error {
		return s.feed(ctx, from, read, out)
	}, s.ops.Done), nil
}

// feed delivers events from cursor next until ctx is done or the store
// closes, and returns which of the two happened.
func (s *Store) feed(ctx context.Context, next uint64, read reader, out chan<- event.Envelope) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	reason := func() error {
		if s.ctx.Err() != nil {
			return eventstore.ErrClosed
		}
		return ctx.Err()
	}
	poll := time.NewTimer(s.poll)
	defer poll.Stop()
	for {
		wake := s.waker()
		batch, after, more, err := read(rctx, next)
		if rctx.Err() != nil {
			return reason()
		}
		// A read error (server restarting, pool exhausted) is retried at
		// the poll interval: the contract ends a subscription only on ctx
		// or Close.
		for _, e := range batch {
			select {
			case out <- e:
			case <-rctx.Done():
				return reason()
			}
		}
		next = after
		if err == nil && more {
			continue
		}
		if !poll.Stop() {
			select {
			case <-poll.C:
			default:
			}
		}
		poll.Reset(s.poll)
		select {
		case <-wake:
		case <-poll.C:
		case <-rctx.Done():
			return reason()
		}
	}
}

// waker returns the channel the next known append closes.
func (s *Store) waker() <-chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	return s.wake
}

// broadcast wakes every waiting subscription.
func (s *Store) broadcast() {
	s.wakeMu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.wakeMu.Unlock()
}

// listen holds a dedicated connection (not a pool one, so it never starves
// appends) LISTENing on the store's channel, and wakes subscriptions on
// each notification, including appends by other processes. When the
// connection breaks it reconnects after the poll interval; subscriptions
// keep polling meanwhile.
func (s *Store) listen() {
	cfg := s.pool.Config().ConnConfig.Copy()
	for s.ctx.Err() == nil {
		s.listenOnce1(cfg)
		select {
		case <-s.ctx.Done():
		case <-time.After(s.poll):
		}
	}
}

// listenOnce1 runs one listening connection until it fails or Close.
func (s *Store) listenOnce1(cfg *pgx.ConnConfig) {
	conn, err := pgx.ConnectConfig(s.ctx, cfg)
	if err != nil {
		return
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(s.ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return
	}
	// Appends may have landed while we were not listening.
	s.broadcast()
	for {
		if _, err := conn.WaitForNotification(s.ctx); err != nil {
			return
		}
		s.broadcast()
	}
}
