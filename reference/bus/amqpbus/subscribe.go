package amqpbus

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/edkit-dev/edkit/reference/backoff"
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
	retry := backoff.New(s.b.cfg.backoffMin, s.b.cfg.backoffMax)
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
				retry.Reset()
				break
			}
			// The connection may be dead but not yet noticed, or the
			// broker still recovering its queues: try again shortly (ctx
			// also ends with the Bus).
			if !retry.Sleep(ctx) {
				return
			}
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

// queued is one buffered delivery and how often this subscription has
// requeued it locally.
type queued struct {
	raw   amqp.Delivery
	local int
}

// keyQueue is one key's buffered deliveries. At most one is in flight.
// After a local requeue the message is back at the head at once; after a
// broker requeue (BrokerRequeue) the key waits for it to come back before
// handing out anything later.
type keyQueue struct {
	queue      []queued // queue[0] is in flight while it is pending
	inflight   *delivery
	waiting    bool
	awaitID    string
	awaitUntil time.Time
	inReady    bool
}

// pumpState is one channel's hand-out state: the keys' queues and the
// keys ready to hand out next, in turn.
type pumpState struct {
	s         *subscription
	keys      map[string]*keyQueue
	ready     []string
	pending   *delivery
	pendingKQ *keyQueue
}

func (p *pumpState) markReady(k string, kq *keyQueue) {
	if !kq.inReady && kq.inflight == nil && !kq.waiting && len(kq.queue) > 0 {
		kq.inReady = true
		p.ready = append(p.ready, k)
	}
}

// prepare makes the next ready key's head the pending delivery.
func (p *pumpState) prepare() {
	if p.pending != nil || len(p.ready) == 0 {
		return
	}
	k := p.ready[0]
	p.ready = p.ready[1:]
	kq := p.keys[k]
	kq.inReady = false
	q := kq.queue[0]
	p.pending = newDelivery(p.s, k, q)
	p.pendingKQ = kq
	kq.inflight = p.pending // held for its key from now, handed out or not
}

// handedOut records that the pending delivery reached the subscriber.
func (p *pumpState) handedOut() {
	p.pendingKQ.queue = p.pendingKQ.queue[1:]
	p.pending, p.pendingKQ = nil, nil
}

// arrived queues a delivery from the broker under its key.
func (p *pumpState) arrived(raw amqp.Delivery) {
	k, _ := raw.Headers[HeaderKey].(string)
	kq := p.keys[k]
	if kq == nil {
		kq = &keyQueue{}
		p.keys[k] = kq
	}
	if kq.waiting && raw.Redelivered && raw.MessageId == kq.awaitID {
		// The requeued message is back: first in its key again.
		kq.queue = append([]queued{{raw: raw}}, kq.queue...)
		kq.waiting = false
	} else {
		kq.queue = append(kq.queue, queued{raw: raw})
	}
	p.markReady(k, kq)
}

// settle carries out a settle of the delivery in flight for its key.
func (p *pumpState) settle(req settleReq) error {
	kq := p.keys[req.d.key]
	if req.d.session != p.s.session || kq == nil || kq.inflight != req.d {
		return ErrRevoked
	}
	if req.op == opRequeue && !p.s.b.cfg.brokerRequeue {
		// Requeue in place: the message stays unacked on this channel
		// and is handed out again first; the broker is not involved.
		kq.inflight = nil
		kq.queue = append([]queued{{raw: req.d.raw, local: req.d.local + 1}}, kq.queue...)
		p.markReady(req.d.key, kq)
		return nil
	}
	if err := req.d.brokerSettle(req.op); err != nil {
		// The channel is failing; the broker will redeliver.
		return fmt.Errorf("amqpbus: settle %s: %w: %w", req.d.msg.ID, ErrRevoked, err)
	}
	kq.inflight = nil
	if req.op == opRequeue {
		kq.waiting, kq.awaitID = true, req.d.raw.MessageId
		kq.awaitUntil = time.Now().Add(p.s.b.cfg.requeueWait)
	}
	p.markReady(req.d.key, kq)
	return nil
}

// expire ends the waits for broker-requeued messages that did not come
// back within RequeueWait.
func (p *pumpState) expire(now time.Time) {
	for k, kq := range p.keys {
		if kq.waiting && !now.Before(kq.awaitUntil) {
			// It went to another member (or was dropped): go on.
			kq.waiting = false
			p.markReady(k, kq)
		}
	}
}

// pump hands out deliveries of one channel, one in flight per key, until
// the channel is lost (true) or ctx or the Bus ends (false).
func (s *subscription) pump(ctx context.Context, deliveries <-chan amqp.Delivery) bool {
	p := &pumpState{s: s, keys: map[string]*keyQueue{}}
	for {
		p.prepare()
		var out chan bus.Delivery
		if p.pending != nil {
			out = s.out
		}
		var wake <-chan time.Time
		if next, ok := earliestWait(p.keys); ok {
			wake = time.After(time.Until(next))
		}
		select {
		case out <- p.pending:
			p.handedOut()
		case raw, ok := <-deliveries:
			if !ok {
				return true
			}
			p.arrived(raw)
		case req := <-s.settles:
			req.reply <- p.settle(req)
		case now := <-wake:
			p.expire(now)
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
	local   int // requeues in place before this hand-out
	msg     *bus.Message
	settled atomic.Bool
}

var _ bus.Delivery = (*delivery)(nil)

// newDelivery makes q's next hand-out. Its attempt is the broker's
// (x-delivery-count + 1 on quorum queues, else 1) plus the requeues in
// place.
func newDelivery(s *subscription, key string, q queued) *delivery {
	m := fromAMQP(&q.raw, s.topic)
	if q.local > 0 {
		attempt := 1
		if n, err := strconv.Atoi(m.Header(bus.HeaderAttempt)); err == nil {
			attempt = n
		}
		m.SetHeader(bus.HeaderAttempt, strconv.Itoa(attempt+q.local))
	}
	return &delivery{s: s, session: s.session, key: key, raw: q.raw, local: q.local, msg: m}
}

func (d *delivery) Message() *bus.Message { return d.msg }

// DeliveryTag is the AMQP delivery tag on its channel.
func (d *delivery) DeliveryTag() uint64 { return d.raw.DeliveryTag }

// Redelivered reports the broker's redelivered flag.
func (d *delivery) Redelivered() bool { return d.raw.Redelivered }

// Ack acks the delivery (basic.ack) and lets its key move on.
func (d *delivery) Ack(ctx context.Context) error { return d.settle(ctx, opAck) }

// Nack with requeue hands the message out again before anything later of
// its key, without returning it to the broker (see BrokerRequeue for the
// other way); without requeue the broker discards it or dead-letters it to the
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
