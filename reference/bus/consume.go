package bus

import (
	"context"
	"hash/fnv"
	"sync"
	"time"
)

// ConsumeOption configures Consume.
type ConsumeOption func(*consumeConfig)

type consumeConfig struct {
	workers       int
	onSettleError func(m *Message, err error)
}

// Concurrency runs up to n deliveries at once. Deliveries are routed to
// workers by a hash of their key, and each worker handles its deliveries in
// arrival order, so per-key order is kept; different keys run in parallel.
// n < 1 means 1 (the default: one delivery at a time).
func Concurrency(n int) ConsumeOption {
	return func(c *consumeConfig) { c.workers = n }
}

// OnSettleError calls fn when an Ack or Nack fails. Consume keeps going
// after a failed settle (the broker will redeliver); fn lets a recorder note
// it.
func OnSettleError(fn func(m *Message, err error)) ConsumeOption {
	return func(c *consumeConfig) { c.onSettleError = fn }
}

// Consume subscribes group to topic and runs h for each delivery: nil acks
// it, an error nacks it without requeue (in-process retry and dead-lettering
// are middleware's job, see Retry and DeadLetter). It returns nil when ctx is
// done, ErrSubscriptionEnded when the subscription closes first, or the
// Subscribe error.
//
// A handler that fails because ctx ended during shutdown is nacked with
// requeue instead, so stopping a consumer never discards a message.
func Consume(ctx context.Context, sub Subscriber, topic, group string, h Handler, opts ...ConsumeOption) error {
	cfg := consumeConfig{workers: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.workers < 1 {
		cfg.workers = 1
	}
	ch, err := sub.Subscribe(ctx, topic, group)
	if err != nil {
		return err
	}
	if cfg.workers == 1 {
		for d := range ch {
			handle(ctx, d, h, &cfg)
		}
		return endErr(ctx)
	}

	queues := make([]chan Delivery, cfg.workers)
	var wg sync.WaitGroup
	for i := range queues {
		q := make(chan Delivery)
		queues[i] = q
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range q {
				handle(ctx, d, h, &cfg)
			}
		}()
	}
	for d := range ch {
		hs := fnv.New32a()
		_, _ = hs.Write([]byte(d.Message().Key))
		queues[hs.Sum32()%uint32(cfg.workers)] <- d
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	return endErr(ctx)
}

// settleTimeout bounds one Ack or Nack issued by Consume.
const settleTimeout = 30 * time.Second

func endErr(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	return ErrSubscriptionEnded
}

func handle(ctx context.Context, d Delivery, h Handler, cfg *consumeConfig) {
	m := d.Message()
	herr := h(ctx, m)
	// Settle even when ctx has ended (so shutdown requeues rather than
	// abandons), but never wait on a hung broker forever.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	var err error
	switch {
	case herr == nil:
		err = d.Ack(sctx)
	case ctx.Err() != nil:
		err = d.Nack(sctx, true)
	default:
		err = d.Nack(sctx, false)
	}
	if err != nil && cfg.onSettleError != nil {
		cfg.onSettleError(m, err)
	}
}
