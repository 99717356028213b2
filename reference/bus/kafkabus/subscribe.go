package kafkabus

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
		settled: make(chan struct{}, 1),
		commits: make(chan []kafka.Message),
		results: make(chan commitResult),
	}
	b.subs.Add(1)
	go s.fetch(sctx)
	// Not sctx: the final commit runs after it has ended.
	go s.commit(context.WithoutCancel(ctx))
	go s.pump(sctx)
	return s.out, nil
}

type subscription struct {
	b       *Bus
	r       *kafka.Reader
	cancel  context.CancelFunc
	out     chan bus.Delivery
	fetched chan kafka.Message
	settled chan struct{}        // signals settles queued
	commits chan []kafka.Message // pump → committer; closed when the pump stops
	results chan commitResult    // committer → pump

	// Settles queue here rather than on a channel: Ack returns without
	// waiting for the pump to run, and once stopped is set no settle can
	// be accepted and then dropped.
	mu      sync.Mutex
	settles []settleReq
	stopped bool
}

// takeSettles returns the queued settles; with stop, no more are accepted.
func (s *subscription) takeSettles(buf []settleReq, stop bool) []settleReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.settles
	s.settles = buf[:0]
	s.stopped = s.stopped || stop
	return q
}

type settleReq struct {
	d       *delivery
	advance bool // false: requeue in place
}

type commitResult struct {
	msgs []kafka.Message
	err  error
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

// commit sends the pump's batches of offsets, one request at a time, so a
// slow commit batches the acks that arrive meanwhile instead of queueing a
// request per ack. base carries no cancellation: each request is bounded by
// WriteTimeout instead.
func (s *subscription) commit(base context.Context) {
	defer close(s.results)
	for msgs := range s.commits {
		ctx, cancel := context.WithTimeout(base, s.b.cfg.writeTimeout)
		err := s.r.CommitMessages(ctx, msgs...)
		cancel()
		s.results <- commitResult{msgs: msgs, err: err}
	}
}

// entry is one fetched message in its partition's window.
type entry struct {
	km    kafka.Message
	state entryState
	d     *delivery // the current delivery while out
}

type entryState uint8

const (
	queued entryState = iota // to be handed out (again)
	out                      // handed out, unsettled
	done                     // acked or dropped, waiting for the entries before it
)

// partQueue is a partition's window: entries from the oldest one not done,
// in offset order. Only its done prefix is ever committed, so a commit
// never passes an unsettled or requeued message.
type partQueue struct {
	entries []*entry
	out     int   // entries handed out and unsettled
	last    int64 // highest offset queued, to drop refetches after a rebalance
}

// next returns the partition's next entry to hand out, if it may go now:
// the first queued one, when fewer than max are out and its key has no
// unsettled delivery. Nothing after it goes first, so a partition is handed
// out in offset order and a requeued message goes again before the rest.
func (pq *partQueue) next(limit int, keysOut map[string]int) *entry {
	if pq.out >= limit {
		return nil
	}
	for _, e := range pq.entries {
		if e.state != queued {
			continue
		}
		if len(e.km.Key) > 0 && keysOut[string(e.km.Key)] > 0 {
			return nil
		}
		return e
	}
	return nil
}

// pump owns all subscription state: it hands out deliveries, takes
// settles, and decides what to commit.
func (s *subscription) pump(ctx context.Context) {
	defer s.b.subs.Done()
	defer close(s.out)

	cfg := s.b.cfg
	parts := map[int]*partQueue{}
	var order []int // partitions in the order first seen, for round robin
	rr := 0
	keysOut := map[string]int{}
	buffered := 0
	toCommit := map[int]kafka.Message{} // per partition: the last done entry not yet committed
	committing := false                 // a batch is with the committer
	var wait <-chan time.Time           // CommitInterval after the last commit
	var pending *entry
	var pendingD *delivery

	sendCommit := func() {
		msgs := make([]kafka.Message, 0, len(toCommit))
		for p, km := range toCommit {
			msgs = append(msgs, km)
			delete(toCommit, p)
		}
		s.commits <- msgs
		committing = true
	}
	commitResultIn := func(res commitResult) {
		committing = false
		if res.err != nil {
			// Not committed: keep the offsets unless a later one is
			// already waiting, and try again after a pause.
			for _, km := range res.msgs {
				if cur, ok := toCommit[km.Partition]; !ok || cur.Offset < km.Offset {
					toCommit[km.Partition] = km
				}
			}
			wait = time.After(max(cfg.commitEvery, 100*time.Millisecond))
			return
		}
		if cfg.commitEvery > 0 {
			wait = time.After(cfg.commitEvery)
		}
	}

	var spare []settleReq
	apply := func(req settleReq) {
		e := req.d.e
		if e.state != out || e.d != req.d {
			return
		}
		pq := parts[e.km.Partition]
		pq.out--
		if len(e.km.Key) > 0 {
			k := string(e.km.Key)
			if keysOut[k]--; keysOut[k] == 0 {
				delete(keysOut, k)
			}
		}
		e.d = nil
		if !req.advance {
			e.state = queued // the first queued entry: it goes again first
			return
		}
		e.state = done
		n := 0
		for n < len(pq.entries) && pq.entries[n].state == done {
			n++
		}
		if n > 0 {
			toCommit[e.km.Partition] = pq.entries[n-1].km
			clear(pq.entries[:n])
			pq.entries = pq.entries[n:]
			buffered -= n
		}
	}

	defer func() {
		s.cancel()
		for _, req := range s.takeSettles(nil, true) { // later ones are revoked
			apply(req)
		}
		if committing {
			commitResultIn(<-s.results)
		}
		if len(toCommit) > 0 {
			// The final commit: what was acked is committed before the
			// channel closes, so the next member of the group starts after it.
			sendCommit()
			<-s.results
		}
		close(s.commits)
		for range s.fetched { // let fetch exit before closing the reader
		}
		_ = s.r.Close()
	}()

	for {
		if pending == nil {
			for i := range order {
				p := order[(rr+i)%len(order)]
				if e := parts[p].next(cfg.maxInFlight, keysOut); e != nil {
					pending = e
					pendingD = &delivery{s: s, e: e, km: e.km, msg: fromKafka(e.km)}
					rr = (rr + i + 1) % len(order)
					break
				}
			}
		}
		var outCh chan bus.Delivery
		if pending != nil {
			outCh = s.out
		}
		fetched := s.fetched
		if buffered >= cfg.maxBuffered {
			fetched = nil
		}
		if !committing && wait == nil && len(toCommit) > 0 {
			sendCommit() // the committer is idle: this does not wait
		}
		select {
		case outCh <- pendingD:
			pending.state, pending.d = out, pendingD
			parts[pending.km.Partition].out++
			if len(pending.km.Key) > 0 {
				keysOut[string(pending.km.Key)]++
			}
			pending, pendingD = nil, nil
		case km, ok := <-fetched:
			if !ok {
				return
			}
			pq := parts[km.Partition]
			if pq == nil {
				pq = &partQueue{last: -1}
				parts[km.Partition] = pq
				order = append(order, km.Partition)
			}
			if km.Offset <= pq.last {
				continue
			}
			pq.last = km.Offset
			pq.entries = append(pq.entries, &entry{km: km})
			buffered++
		case <-s.settled:
			q := s.takeSettles(spare, false)
			for _, req := range q {
				apply(req)
			}
			spare = q
		case res := <-s.results:
			commitResultIn(res)
		case <-wait:
			wait = nil
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
	e       *entry
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

// Ack settles the delivery; its offset is committed, in the background,
// once every earlier offset of its partition is settled too.
func (d *delivery) Ack(ctx context.Context) error { return d.settle(ctx, true) }

// Nack with requeue delivers the message again before anything later of
// its key; without, it is dropped (committed past like an ack).
func (d *delivery) Nack(ctx context.Context, requeue bool) error { return d.settle(ctx, !requeue) }

func (d *delivery) settle(ctx context.Context, advance bool) error {
	if !d.settled.CompareAndSwap(false, true) {
		return bus.ErrAlreadySettled
	}
	if err := ctx.Err(); err != nil {
		// Not settled: the caller may try again.
		d.settled.Store(false)
		return fmt.Errorf("kafkabus: settle %s/%d@%d: %w", d.km.Topic, d.km.Partition, d.km.Offset, err)
	}
	s := d.s
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return ErrRevoked
	}
	s.settles = append(s.settles, settleReq{d: d, advance: advance})
	s.mu.Unlock()
	select {
	case s.settled <- struct{}{}:
	default: // a signal is pending already
	}
	return nil
}
