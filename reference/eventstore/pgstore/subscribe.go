package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// SubscribeAll implements eventstore.Store. A goroutine per subscription
// reads by position and blocks on a small channel, so catch-up and live
// delivery are one loop; positions are a gapless committed prefix (doc.go),
// so the loop can neither skip nor repeat.
func (s *Store) SubscribeAll(ctx context.Context, from uint64) (*eventstore.Subscription, error) {
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
	if from == 0 {
		from = 1
	}
	return eventstore.Feed(subBuffer, func(out chan<- event.Envelope) error {
		return s.feed(ctx, from, out)
	}, s.ops.Done), nil
}

// feed delivers events from position next until ctx is done or the store
// closes, and returns which of the two happened.
func (s *Store) feed(ctx context.Context, next uint64, out chan<- event.Envelope) error {
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
		batch, err := s.readAll(rctx, next, subBatch)
		if rctx.Err() != nil {
			return reason()
		}
		// A read error (server restarting, pool exhausted) is retried at
		// the poll interval: the contract ends a subscription only on ctx
		// or Close.
		for _, e := range batch {
			select {
			case out <- e:
				next = e.Position + 1
			case <-rctx.Done():
				return reason()
			}
		}
		if err == nil && len(batch) == subBatch {
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
