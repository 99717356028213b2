package amqpbus

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Subscribe declares topic's exchange and the group's queue (QueueName)
// bound to it, and consumes the queue with manual acks and the configured
// prefetch. The queue is declared before Subscribe returns, so everything
// published after that reaches the group. The channel closes when ctx is
// done or the Bus closes; a dropped connection does not close it: the
// subscription consumes again once the Bus has reconnected, and the broker
// redelivers whatever was unacked.
func (b *Bus) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	if topic == "" {
		return nil, ErrNoTopic
	}
	if group == "" {
		return nil, ErrNoGroup
	}
	conn, _, err := b.current(ctx)
	if err != nil {
		return nil, err
	}
	ch, deliveries, err := b.consumeCtx(ctx, conn, topic, group)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		_ = ch.Close() // never handed out
		return nil, bus.ErrClosed
	}
	s := &subscription{
		b: b, topic: topic, group: group,
		out:     make(chan bus.Delivery),
		settles: make(chan settleReq),
		done:    make(chan struct{}),
	}
	// The subscription ends with ctx or with the Bus.
	sctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.life, cancel)
	b.wg.Add(1)
	go func() {
		defer cancel()
		defer stop()
		s.run(sctx, ch, deliveries)
	}()
	return s.out, nil
}

// consumeCtx is consume bounded by ctx; an abandoned attempt closes its
// channel when it completes.
func (b *Bus) consumeCtx(ctx context.Context, conn *amqp.Connection, topic, group string) (*amqp.Channel, <-chan amqp.Delivery, error) {
	type result struct {
		ch         *amqp.Channel
		deliveries <-chan amqp.Delivery
		err        error
	}
	res := make(chan result, 1)
	go func() {
		ch, d, err := b.consume(conn, topic, group)
		res <- result{ch, d, err}
	}()
	select {
	case r := <-res:
		return r.ch, r.deliveries, r.err
	case <-ctx.Done():
		go func() {
			if r := <-res; r.ch != nil {
				_ = r.ch.Close() // nobody will read its deliveries
			}
		}()
		return nil, nil, fmt.Errorf("amqpbus: subscribe %s: %w: %w", QueueName(topic, group), ErrNotConnected, ctx.Err())
	}
}

// consume opens a channel with the prefetch as QoS, declares the topology
// and starts consuming.
func (b *Bus) consume(conn *amqp.Connection, topic, group string) (*amqp.Channel, <-chan amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("amqpbus: open channel: %w", err)
	}
	fail := func(err error) (*amqp.Channel, <-chan amqp.Delivery, error) {
		_ = ch.Close() // the error below says what went wrong
		return nil, nil, err
	}
	if err := ch.Qos(b.cfg.prefetch, 0, false); err != nil {
		return fail(fmt.Errorf("amqpbus: qos: %w", err))
	}
	if err := ch.ExchangeDeclare(topic, b.cfg.exchangeKind, true, false, false, false, nil); err != nil {
		return fail(fmt.Errorf("amqpbus: declare exchange %s: %w", topic, err))
	}
	if err := b.declareQueue(ch, topic, group); err != nil {
		return fail(err)
	}
	deliveries, err := ch.Consume(QueueName(topic, group), "", false, false, false, false, nil)
	if err != nil {
		return fail(fmt.Errorf("amqpbus: consume %s: %w", QueueName(topic, group), err))
	}
	return ch, deliveries, nil
}

type subscription struct {
	b            *Bus
	topic, group string
	out          chan bus.Delivery
	settles      chan settleReq
	done         chan struct{} // closed when run returns
	session      int           // counts channels; owned by run
}

type settleOp int

const (
	opAck settleOp = iota
	opRequeue
	opDrop
)

type settleReq struct {
	d     *delivery
	op    settleOp
	reply chan error
}

// run pumps one channel at a time; when a channel is lost with the
// connection it waits for the Bus to reconnect and consumes again.
func (s *subscription) run(ctx context.Context, ch *amqp.Channel, deliveries <-chan amqp.Delivery) {
	defer s.b.wg.Done()
	defer close(s.out)
	defer close(s.done)
	backoff := s.b.cfg.backoffMin
	for {
		s.session++
		lost := s.pump(ctx, deliveries)
		_ = ch.Close() // unacked deliveries go back to the queue either way
		if !lost {
			return
		}
		for {
			conn, ok := s.waitConn(ctx)
			if !ok {
				return
			}
			var err error
			if ch, deliveries, err = s.b.consumeCtx(ctx, conn, s.topic, s.group); err == nil {
				backoff = s.b.cfg.backoffMin
				break
			}
			// The connection may be dead but not yet noticed, or the
			// broker still recovering its queues: try again shortly.
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			case <-s.b.done:
				return
			}
			backoff = min(2*backoff, s.b.cfg.backoffMax)
		}
	}
}

// waitConn waits for a live connection, answering settles of the lost
// channel's deliveries with ErrRevoked meanwhile.
func (s *subscription) waitConn(ctx context.Context) (*amqp.Connection, bool) {
	for {
		s.b.mu.Lock()
		if s.b.closed {
			s.b.mu.Unlock()
			return nil, false
		}
		conn, ready := s.b.conn, s.b.ready
		s.b.mu.Unlock()
		if conn != nil && !conn.IsClosed() {
			return conn, true
		}
		select {
		case <-ready:
		case req := <-s.settles:
			req.reply <- ErrRevoked
		case <-ctx.Done():
			return nil, false
		case <-s.b.done:
			return nil, false
		}
	}
}

// keyQueue is one key's buffered deliveries. At most one is in flight; after
// Nack(requeue) the key waits for the requeued message to come back before
// handing out anything later.
type keyQueue struct {
	queue      []amqp.Delivery // queue[0] is inflight while it is pending
	inflight   *delivery
	waiting    bool
	awaitID    string
	awaitUntil time.Time
	inReady    bool
}

// pump hands out deliveries of one channel, one in flight per key, until
// the channel is lost (true) or ctx or the Bus ends (false).
func (s *subscription) pump(ctx context.Context, deliveries <-chan amqp.Delivery) bool {
	keys := map[string]*keyQueue{}
	var ready []string
	var pending *delivery
	var pendingKQ *keyQueue
	markReady := func(k string, kq *keyQueue) {
		if !kq.inReady && kq.inflight == nil && !kq.waiting && len(kq.queue) > 0 {
			kq.inReady = true
			ready = append(ready, k)
		}
	}
	for {
		if pending == nil && len(ready) > 0 {
			k := ready[0]
			ready = ready[1:]
			kq := keys[k]
			kq.inReady = false
			raw := kq.queue[0]
			pending = &delivery{s: s, session: s.session, key: k, raw: raw, msg: fromAMQP(&raw, s.topic)}
			pendingKQ = kq
			kq.inflight = pending // held for its key from now, handed out or not
		}
		var out chan bus.Delivery
		if pending != nil {
			out = s.out
		}
		var wake <-chan time.Time
		if next, ok := earliestWait(keys); ok {
			wake = time.After(time.Until(next))
		}
		select {
		case out <- pending:
			pendingKQ.queue = pendingKQ.queue[1:]
			pending, pendingKQ = nil, nil
		case raw, ok := <-deliveries:
			if !ok {
				return true
			}
			k, _ := raw.Headers[HeaderKey].(string)
			kq := keys[k]
			if kq == nil {
				kq = &keyQueue{}
				keys[k] = kq
			}
			if kq.waiting && raw.Redelivered && raw.MessageId == kq.awaitID {
				// The requeued message is back: first in its key again.
				kq.queue = append([]amqp.Delivery{raw}, kq.queue...)
				kq.waiting = false
			} else {
				kq.queue = append(kq.queue, raw)
			}
			markReady(k, kq)
		case req := <-s.settles:
			kq := keys[req.d.key]
			if req.d.session != s.session || kq == nil || kq.inflight != req.d {
				req.reply <- ErrRevoked
				continue
			}
			if err := req.d.brokerSettle(req.op); err != nil {
				// The channel is failing; the broker will redeliver.
				req.reply <- fmt.Errorf("amqpbus: settle %s: %w: %w", req.d.msg.ID, ErrRevoked, err)
				continue
			}
			kq.inflight = nil
			if req.op == opRequeue {
				kq.waiting, kq.awaitID = true, req.d.raw.MessageId
				kq.awaitUntil = time.Now().Add(s.b.cfg.requeueWait)
			}
			markReady(req.d.key, kq)
			req.reply <- nil
		case <-wake:
			now := time.Now()
			for k, kq := range keys {
				if kq.waiting && !now.Before(kq.awaitUntil) {
					// It went to another member (or was dropped): go on.
					kq.waiting = false
					markReady(k, kq)
				}
			}
		case <-ctx.Done():
			return false
		case <-s.b.done:
			return false
		}
	}
}

func earliestWait(keys map[string]*keyQueue) (time.Time, bool) {
	var next time.Time
	found := false
	for _, kq := range keys {
		if kq.waiting && (!found || kq.awaitUntil.Before(next)) {
			next, found = kq.awaitUntil, true
		}
	}
	return next, found
}

// delivery is one AMQP delivery handed to the subscriber.
type delivery struct {
	s       *subscription
	session int
	key     string
	raw     amqp.Delivery
	msg     *bus.Message
	settled atomic.Bool
}

var _ bus.Delivery = (*delivery)(nil)

func (d *delivery) Message() *bus.Message { return d.msg }

// DeliveryTag is the AMQP delivery tag on its channel.
func (d *delivery) DeliveryTag() uint64 { return d.raw.DeliveryTag }

// Redelivered reports the broker's redelivered flag.
func (d *delivery) Redelivered() bool { return d.raw.Redelivered }

// Ack acks the delivery (basic.ack) and lets its key move on.
func (d *delivery) Ack(ctx context.Context) error { return d.settle(ctx, opAck) }

// Nack with requeue returns the message to the queue (basic.nack
// requeue=true) and holds later messages of its key until it comes back;
// without requeue the broker discards it or dead-letters it to the
// DeadLetterExchange.
func (d *delivery) Nack(ctx context.Context, requeue bool) error {
	if requeue {
		return d.settle(ctx, opRequeue)
	}
	return d.settle(ctx, opDrop)
}

func (d *delivery) settle(ctx context.Context, op settleOp) error {
	if !d.settled.CompareAndSwap(false, true) {
		return bus.ErrAlreadySettled
	}
	req := settleReq{d: d, op: op, reply: make(chan error, 1)}
	select {
	case d.s.settles <- req:
		return <-req.reply
	case <-d.s.done:
		return ErrRevoked
	case <-ctx.Done():
		d.settled.Store(false) // nothing happened; the caller may try again
		return ctx.Err()
	}
}

// brokerSettle runs on the pump, so a requeued message cannot come back
// before the pump knows to put it first.
func (d *delivery) brokerSettle(op settleOp) error {
	switch op {
	case opAck:
		return d.raw.Ack(false)
	case opRequeue:
		return d.raw.Nack(false, true)
	default:
		return d.raw.Nack(false, false)
	}
}
