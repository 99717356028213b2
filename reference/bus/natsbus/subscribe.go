package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Subscribe binds to group's durable pull consumer on topic's stream,
// creating both on first use; a new group starts at the topic's first
// message. The channel closes when ctx is done or the Bus closes.
func (b *Bus) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	if group == "" {
		return nil, ErrNoGroup
	}
	if b.isClosed() {
		return nil, bus.ErrClosed
	}
	st, err := b.stream(ctx, topic)
	if err != nil {
		return nil, err
	}
	cctx, cancelCreate := b.ctxTimeout(ctx)
	defer cancelCreate()
	name := ConsumerName(group)
	cons, err := st.CreateOrUpdateConsumer(cctx, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "edkit group " + group + " on " + topic,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.ackWait,
		MaxDeliver:    b.maxDeliver(),
		MaxAckPending: b.cfg.maxAckPending,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: consumer %s on %s: %w", name, topic, err)
	}
	if err := b.watchMaxDeliveries(st, name, topic, group); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, bus.ErrClosed
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &subscription{
		b: b, topic: topic, cons: cons, cancel: cancel,
		out:     make(chan bus.Delivery),
		fetched: make(chan jetstream.Msg),
		settles: make(chan settleReq),
		expired: make(chan waitKey),
		done:    make(chan struct{}),
	}
	b.subs.Add(1)
	go s.fetch()
	go s.pump(sctx)
	return s.out, nil
}

// maxDeliver is the consumer setting: -1 is JetStream's "unlimited".
func (b *Bus) maxDeliver() int {
	if b.cfg.maxDeliver == 0 {
		return -1
	}
	return b.cfg.maxDeliver
}

type subscription struct {
	b       *Bus
	topic   string
	cons    jetstream.Consumer
	cancel  context.CancelFunc
	out     chan bus.Delivery
	fetched chan jetstream.Msg
	settles chan settleReq
	expired chan waitKey
	done    chan struct{} // closed when the pump stops
}

// outcome is how a settled delivery affects its key.
type outcome int

const (
	advance         outcome = iota // acked or terminated: the key moves on
	awaitRedelivery                // nacked (or ack unconfirmed): hold the key for the redelivery
)

type settleReq struct {
	d   *delivery
	out outcome
}

type waitKey struct {
	key string
	seq uint64
}

// fetchWait bounds each pull request; it is also how long a closing
// subscription may wait for its fetch loop.
const fetchWait = 500 * time.Millisecond

// fetch feeds the pump with explicit pull requests (Fetch) of up to
// pullBatch messages each; it blocks while the pump's buffer is full, which
// is the subscription's back-pressure. Explicit requests, rather than the
// client's self-refilling Messages iterator, matter for per-key order: with
// the iterator, under load, a burst of -NAKs sometimes left the
// subscription receiving nothing at all (neither the redeliveries nor the
// stream's later messages) until RedeliveryWait released the held keys out
// of order — 3 of 120 runs of TestPerKeyOrderAcrossNacks with four test
// processes at once, against 0 of 120 with Fetch. We did not find which
// side lost the pull request; a fresh request per batch sidesteps it.
func (s *subscription) fetch() {
	defer close(s.fetched)
	for {
		select {
		case <-s.done:
			return
		default:
		}
		batch, err := s.cons.Fetch(s.b.cfg.pullBatch, jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, nats.ErrConnectionClosed) {
				return
			}
			// Reconnecting or a busy server: try again shortly.
			select {
			case <-s.done:
				return
			case <-time.After(fetchWait / 5):
			}
			continue
		}
		for m := range batch.Messages() {
			select {
			case s.fetched <- m:
			case <-s.done:
				// Hand these back to the group now, not after AckWait.
				_ = m.Nak()
				for m := range batch.Messages() {
					_ = m.Nak()
				}
				return
			}
		}
	}
}

// keyQueue is one key's fetched messages in stream order.
type keyQueue struct {
	queue    []*delivery
	inflight *delivery
	waitSeq  uint64 // stream sequence of a nacked message awaited back; 0: none
	timer    *time.Timer
}

func (kq *keyQueue) idle() bool { return kq.inflight == nil && kq.waitSeq == 0 }

// pump hands out one delivery per key at a time, in stream order, holding
// a key back while its nacked message is awaited again. One goroutine runs
// it, so pumpState needs no lock.
func (s *subscription) pump(ctx context.Context) {
	defer s.b.subs.Done()
	defer close(s.out)
	ps := &pumpState{s: s, keys: map[string]*keyQueue{}, held: map[uint64]*delivery{}}
	defer ps.finish()
	for {
		if ps.pending == nil && len(ps.ready) > 0 {
			ps.pending = ps.keys[ps.ready[0]].queue[0]
		}
		var out chan bus.Delivery
		if ps.pending != nil {
			out = s.out
		}
		fetched := s.fetched
		if n := len(ps.held); n >= s.b.cfg.maxBuffered && (ps.waiting == 0 || n >= 2*s.b.cfg.maxBuffered) {
			fetched = nil
		}
		select {
		case out <- ps.pending:
			ps.handedOut()
		case m, ok := <-fetched:
			if !ok {
				return
			}
			ps.fetchedIn(m)
		case req := <-s.settles:
			ps.settledIn(req)
		case w := <-s.expired:
			ps.expiredIn(w)
		case <-ctx.Done():
			return
		case <-s.b.done:
			return
		}
	}
}

// pumpState is what the pump owns.
type pumpState struct {
	s       *subscription
	keys    map[string]*keyQueue
	held    map[uint64]*delivery // queued or in flight, by stream sequence
	ready   []string             // keys with a queued head, idle
	waiting int                  // keys awaiting a redelivery
	pending *delivery
}

// markReady queues key for handing out when its head may go: first when
// the head is a redelivery that must go again before anything else.
func (ps *pumpState) markReady(key string, kq *keyQueue, front bool) {
	if len(kq.queue) == 0 || !kq.idle() {
		return
	}
	if front {
		ps.ready = append([]string{key}, ps.ready...)
	} else {
		ps.ready = append(ps.ready, key)
	}
}

// handedOut records that the subscriber took the pending delivery.
func (ps *pumpState) handedOut() {
	kq := ps.keys[ps.pending.msg.Key]
	kq.queue = kq.queue[1:]
	kq.inflight = ps.pending
	// Not always ready[0]: a redelivered head may have been put in front
	// since pending was picked.
	for i, k := range ps.ready {
		if k == ps.pending.msg.Key {
			ps.ready = append(ps.ready[:i], ps.ready[i+1:]...)
			break
		}
	}
	ps.pending = nil
}

// fetchedIn queues a fetched message behind its key's others, or first
// when it is the redelivery its key awaits.
func (ps *pumpState) fetchedIn(m jetstream.Msg) {
	d, err := ps.s.newDelivery(m)
	if err != nil {
		return // not a JetStream message: nothing to settle
	}
	kq := ps.keys[d.msg.Key]
	if kq == nil {
		kq = &keyQueue{}
		ps.keys[d.msg.Key] = kq
	}
	switch old := ps.held[d.seq]; {
	case kq.waitSeq == d.seq:
		// The awaited redelivery: it goes first again.
		kq.waitSeq = 0
		ps.waiting--
		kq.timer.Stop()
		kq.queue = append([]*delivery{d}, kq.queue...)
		ps.held[d.seq] = d
		ps.markReady(d.msg.Key, kq, true)
	case old != nil:
		// Redelivered after AckWait while held here: keep the fresher
		// copy if it is still queued.
		for i, q := range kq.queue {
			if q == old {
				kq.queue[i] = d
				ps.held[d.seq] = d
				if ps.pending == old {
					ps.pending = d
				}
			}
		}
	default:
		kq.queue = append(kq.queue, d)
		ps.held[d.seq] = d
		if len(kq.queue) == 1 {
			ps.markReady(d.msg.Key, kq, false)
		}
	}
}

// settledIn frees the key of a settled delivery, or holds it until a
// nacked message comes back (or the wait for it expires).
func (ps *pumpState) settledIn(req settleReq) {
	s := ps.s
	kq := ps.keys[req.d.msg.Key]
	if kq == nil || kq.inflight != req.d {
		return
	}
	kq.inflight = nil
	delete(ps.held, req.d.seq)
	if req.out == awaitRedelivery {
		kq.waitSeq = req.d.seq
		ps.waiting++
		w := waitKey{key: req.d.msg.Key, seq: req.d.seq}
		kq.timer = time.AfterFunc(s.b.cfg.redeliveryWait, func() {
			select {
			case s.expired <- w:
			case <-s.done:
			}
		})
		return
	}
	ps.markReady(req.d.msg.Key, kq, false)
}

// expiredIn stops waiting for a redelivery that did not come in time.
func (ps *pumpState) expiredIn(w waitKey) {
	kq := ps.keys[w.key]
	if kq.waitSeq != w.seq {
		return
	}
	kq.waitSeq = 0
	ps.waiting--
	ps.markReady(w.key, kq, true)
}

// finish gives back, at once, what was fetched but never handed out.
func (ps *pumpState) finish() {
	s := ps.s
	s.cancel()
	close(s.done)
	for m := range s.fetched { // let fetch exit; what it still sent goes back at once, not after AckWait
		_ = m.Nak()
	}
	for _, kq := range ps.keys {
		if kq.timer != nil {
			kq.timer.Stop()
		}
		// Fetched but never handed out: give them back to the group at
		// once (best effort; the server redelivers after AckWait anyway).
		// Deliveries in flight stay with their holder, who may still
		// settle them.
		for _, d := range kq.queue {
			_ = d.m.Nak()
		}
	}
}

func (s *subscription) newDelivery(m jetstream.Msg) (*delivery, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, err
	}
	msg := fromNATS(s.topic, m.Headers(), m.Data())
	msg.SetHeader(bus.HeaderAttempt, strconv.FormatUint(md.NumDelivered, 10))
	return &delivery{s: s, m: m, msg: msg, seq: md.Sequence.Stream, attempt: md.NumDelivered}, nil
}

// delivery is one JetStream message handed to the subscriber.
type delivery struct {
	s       *subscription
	m       jetstream.Msg
	msg     *bus.Message
	seq     uint64
	attempt uint64
	settled atomic.Bool
}

var _ bus.Delivery = (*delivery)(nil)

func (d *delivery) Message() *bus.Message { return d.msg }

// StreamSeq is the message's sequence in its topic's stream, for recorders
// that check order.
func (d *delivery) StreamSeq() uint64 { return d.seq }

// Ack acknowledges the message and waits for the server's confirmation.
// If the confirmation does not come, the key is held as after a Nack, since
// the server may redeliver.
func (d *delivery) Ack(ctx context.Context) error {
	if !d.settled.CompareAndSwap(false, true) {
		return bus.ErrAlreadySettled
	}
	actx, cancel := d.s.b.ctxTimeout(ctx)
	defer cancel()
	if err := d.m.DoubleAck(actx); err != nil {
		d.s.settle(d, awaitRedelivery)
		return fmt.Errorf("natsbus: ack %s (seq %d): %w", d.msg.ID, d.seq, err)
	}
	d.s.settle(d, advance)
	return nil
}

// Nack with requeue asks the server to redeliver the message (-NAK); the
// key's later messages wait for that redelivery. Without requeue it
// terminates the message (+TERM): no group member gets it again.
func (d *delivery) Nack(ctx context.Context, requeue bool) error {
	if !d.settled.CompareAndSwap(false, true) {
		return bus.ErrAlreadySettled
	}
	if !requeue {
		if err := d.confirm(ctx, "+TERM"); err != nil {
			d.s.settle(d, awaitRedelivery)
			return err
		}
		d.s.settle(d, advance)
		return nil
	}
	// Hold the key before the -NAK leaves, so a prompt redelivery is not
	// mistaken for something new. At MaxDeliver no redelivery will come.
	if md := d.s.b.cfg.maxDeliver; md > 0 && d.attempt >= uint64(md) {
		d.s.settle(d, advance)
	} else {
		d.s.settle(d, awaitRedelivery)
	}
	return d.confirm(ctx, "-NAK")
}

// confirm sends a settle verb to the message's reply subject as a request:
// the server answers once it has processed it.
func (d *delivery) confirm(ctx context.Context, verb string) error {
	ctx, cancel := d.s.b.ctxTimeout(ctx)
	defer cancel()
	if _, err := d.s.b.nc.RequestWithContext(ctx, d.m.Reply(), []byte(verb)); err != nil {
		return fmt.Errorf("natsbus: %s %s (seq %d): %w", verb, d.msg.ID, d.seq, err)
	}
	return nil
}

// settle tells the pump; after the pump stopped there is nothing to tell.
func (s *subscription) settle(d *delivery, o outcome) {
	select {
	case s.settles <- settleReq{d: d, out: o}:
	case <-s.done:
	}
}
