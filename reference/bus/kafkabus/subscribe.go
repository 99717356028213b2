package kafkabus

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Subscribe joins group on topic with a new kafka.Reader, starting from the
// earliest offset when the group has no commit. The channel closes when ctx
// is done, the Bus closes or the reader fails.
func (b *Bus) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	if topic == "" {
		return nil, ErrNoTopic
	}
	if group == "" {
		return nil, ErrNoGroup
	}
	if err := b.ensure(ctx, topic); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, bus.ErrClosed
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           b.brokers,
		GroupID:           group,
		Topic:             topic,
		MinBytes:          1,
		MaxBytes:          10e6,
		MaxWait:           b.cfg.maxWait,
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: b.cfg.heartbeat,
		RebalanceTimeout:  2 * b.cfg.heartbeat * 5,
		SessionTimeout:    b.cfg.sessionTimout,
		JoinGroupBackoff:  b.cfg.joinBackoff,
		ReadBackoffMin:    10 * b.cfg.maxWait / 50,
		ReadBackoffMax:    b.cfg.maxWait,
	})
	sctx, cancel := context.WithCancel(ctx)
	s := &subscription{
		b: b, r: r, cancel: cancel,
		out:     make(chan bus.Delivery),
		fetched: make(chan kafka.Message),
		settles: make(chan settleReq),
		done:    make(chan struct{}),
	}
	b.subs.Add(1)
	go s.fetch(sctx)
	go s.pump(sctx)
	return s.out, nil
}

type subscription struct {
	b       *Bus
	r       *kafka.Reader
	cancel  context.CancelFunc
	out     chan bus.Delivery
	fetched chan kafka.Message
	settles chan settleReq
	done    chan struct{} // closed when the pump stops
}

type settleReq struct {
	d       *delivery
	advance bool // false: requeue at the head of the partition
}

// fetch feeds the pump; it blocks while the pump's buffer is full, which
// is the subscription's back-pressure.
func (s *subscription) fetch(ctx context.Context) {
	defer close(s.fetched)
	for {
		m, err := s.r.FetchMessage(ctx)
		if err != nil {
			return
		}
		select {
		case s.fetched <- m:
		case <-ctx.Done():
			return
		}
	}
}

type partQueue struct {
	queue    []kafka.Message
	inflight *delivery
	last     int64 // highest offset queued, to drop refetches after a rebalance
}

func (s *subscription) pump(ctx context.Context) {
	defer s.b.subs.Done()
	defer close(s.out)
	defer func() {
		s.cancel()
		close(s.done)
		for range s.fetched { // let fetch exit before closing the reader
		}
		_ = s.r.Close()
	}()

	parts := map[int]*partQueue{}
	var ready []int // partitions with a queued head and nothing in flight
	buffered := 0
	var pending *delivery
	for {
		if pending == nil && len(ready) > 0 {
			pq := parts[ready[0]]
			pending = &delivery{s: s, km: pq.queue[0], msg: fromKafka(pq.queue[0])}
		}
		var out chan bus.Delivery
		if pending != nil {
			out = s.out
		}
		fetched := s.fetched
		if buffered >= s.b.cfg.maxBuffered {
			fetched = nil
		}
		select {
		case out <- pending:
			p := pending.km.Partition
			parts[p].inflight = pending
			for i, q := range ready {
				if q == p {
					ready = append(ready[:i], ready[i+1:]...)
					break
				}
			}
			pending = nil
		case km, ok := <-fetched:
			if !ok {
				return
			}
			pq := parts[km.Partition]
			if pq == nil {
				pq = &partQueue{last: -1}
				parts[km.Partition] = pq
			}
			if km.Offset <= pq.last {
				continue
			}
			pq.last = km.Offset
			pq.queue = append(pq.queue, km)
			buffered++
			if len(pq.queue) == 1 && pq.inflight == nil {
				ready = append(ready, km.Partition)
			}
		case req := <-s.settles:
			pq := parts[req.d.km.Partition]
			if pq.inflight != req.d {
				continue
			}
			pq.inflight = nil
			if req.advance {
				pq.queue = pq.queue[1:]
				buffered--
			}
			switch {
			case len(pq.queue) == 0:
			case req.advance:
				ready = append(ready, req.d.km.Partition)
			default:
				// A requeued head is delivered again first.
				ready = append([]int{req.d.km.Partition}, ready...)
			}
		case <-ctx.Done():
			return
		case <-s.b.done:
			return
		}
	}
}

// delivery is one kafka message handed to the subscriber.
type delivery struct {
	s       *subscription
	km      kafka.Message
	msg     *bus.Message
	settled atomic.Bool
}

var _ bus.Delivery = (*delivery)(nil)

func (d *delivery) Message() *bus.Message { return d.msg }

// Partition is the Kafka partition the message came from, for recorders
// that check per-partition offsets.
func (d *delivery) Partition() int { return d.km.Partition }

// Offset is the message's Kafka offset.
func (d *delivery) Offset() int64 { return d.km.Offset }

// Ack commits the offset and lets the partition move on.
func (d *delivery) Ack(ctx context.Context) error { return d.settle(ctx, true) }

// Nack with requeue delivers the message again before anything later in
// its partition; without, it commits past it (the message is dropped).
func (d *delivery) Nack(ctx context.Context, requeue bool) error { return d.settle(ctx, !requeue) }

func (d *delivery) settle(ctx context.Context, advance bool) error {
	if !d.settled.CompareAndSwap(false, true) {
		return bus.ErrAlreadySettled
	}
	select {
	case <-d.s.done:
		return ErrRevoked
	default:
	}
	var cerr error
	if advance {
		if cerr = d.s.r.CommitMessages(ctx, d.km); cerr != nil {
			// Not committed: hand it back so it is redelivered rather
			// than skipped; the caller learns the commit failed.
			advance = false
			cerr = fmt.Errorf("kafkabus: commit %s/%d@%d: %w", d.km.Topic, d.km.Partition, d.km.Offset, cerr)
		}
	}
	select {
	case d.s.settles <- settleReq{d: d, advance: advance}:
		return cerr
	case <-d.s.done:
		if cerr != nil {
			return cerr
		}
		if advance {
			return nil // committed before the subscription ended
		}
		return ErrRevoked
	}
}
