package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Subscribe joins group on topic as one member of a kafka.ConsumerGroup and
// reads each partition it is assigned from the group's committed offset (the
// earliest one when the group has none). The channel closes when ctx is
// done, the Bus closes or a partition read fails.
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
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                group,
		Brokers:           b.brokers,
		Topics:            []string{topic},
		HeartbeatInterval: b.cfg.heartbeat,
		RebalanceTimeout:  2 * b.cfg.heartbeat * 5,
		SessionTimeout:    b.cfg.sessionTimout,
		JoinGroupBackoff:  b.cfg.joinBackoff,
		StartOffset:       kafka.FirstOffset,
		Timeout:           b.cfg.writeTimeout, // bounds each offset commit
	})
	if err != nil {
		return nil, fmt.Errorf("kafkabus: subscribe %s as %s: %w", topic, group, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &subscription{
		b: b, topic: topic, cg: cg, cancel: cancel,
		out:     make(chan bus.Delivery),
		fetched: make(chan fetchedMsg),
		failed:  make(chan struct{}),
		gens:    make(chan *kafka.Generation),
		ends:    make(chan genEnd),
		quit:    make(chan struct{}),
		settled: make(chan struct{}, 1),
		commits: make(chan commitReq),
		results: make(chan commitResult),
	}
	b.subs.Add(1)
	s.wg.Add(2)
	go s.join(sctx)
	go s.commit()
	go s.pump(sctx)
	return s.out, nil
}

type subscription struct {
	b       *Bus
	topic   string
	cg      *kafka.ConsumerGroup
	cancel  context.CancelFunc
	out     chan bus.Delivery
	fetched chan fetchedMsg        // partition readers → pump
	failed  chan struct{}          // closed when a partition read fails
	fail    sync.Once              // closes failed
	gens    chan *kafka.Generation // join → pump: the member's new generation
	ends    chan genEnd            // join → pump: the generation has ended
	quit    chan struct{}          // closed when the pump stops
	settled chan struct{}          // signals settles queued
	commits chan commitReq         // pump → committer; closed when the pump stops
	results chan commitResult      // committer → pump
	wg      sync.WaitGroup         // join, committer and partition readers; the pump waits for them

	// Settles queue here rather than on a channel: Ack returns without
	// waiting for the pump to run, and once stopped is set no settle can
	// be accepted and then dropped. mu also guards delivery.revoked.
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

// genEnd tells the pump a generation has ended; the generation stays open,
// so its commits are still accepted, until done is closed.
type genEnd struct {
	gen  *kafka.Generation
	done chan struct{}
}

// commitReq commits, through the generation that owns the partitions, the
// offset to resume from per partition.
type commitReq struct {
	gen     *kafka.Generation
	offsets map[int]int64
}

type commitResult struct {
	commitReq
	err error
}

// join follows the member's generations and hands each to the pump. The
// hand-over runs in a function started in the generation, which, once the
// generation ends, holds it open until the pump has committed its settles
// and stopped handing out its partitions: kafka-go rejoins the group only
// after such functions return, so no other member gets a partition before
// this one has let go of it.
func (s *subscription) join(ctx context.Context) {
	defer s.wg.Done()
	for {
		gen, err := s.cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			continue // the group joins again by itself, after its backoff
		}
		gen.Start(func(gctx context.Context) { s.hold(gctx, gen) })
	}
}

// hold hands gen to the pump and, when gen ends, waits for the pump to let
// go of it.
func (s *subscription) hold(gctx context.Context, gen *kafka.Generation) {
	if gctx.Err() != nil {
		return // ended already (Start then does not wait for this): never used
	}
	select {
	case s.gens <- gen:
	case <-gctx.Done():
		return
	case <-s.quit:
		return
	}
	select {
	case <-gctx.Done():
	case <-s.quit:
		return
	}
	end := genEnd{gen: gen, done: make(chan struct{})}
	select {
	case s.ends <- end:
		select {
		case <-end.done:
		case <-s.quit:
		}
	case <-s.quit:
	}
}

// partReader reads one assigned partition into the pump.
type partReader struct {
	r      *kafka.Reader
	cancel context.CancelFunc
}

// read feeds the pump; it blocks while the pump's buffer is full, which
// is the subscription's back-pressure.
func (s *subscription) read(ctx context.Context, pr *partReader) {
	defer s.wg.Done()
	defer func() { _ = pr.r.Close() }() // a reader only; nothing to flush
	for {
		km, err := pr.r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.fail.Do(func() { close(s.failed) })
			}
			return
		}
		select {
		case s.fetched <- fetchedMsg{pr: pr, km: km}:
		case <-ctx.Done():
			return
		}
	}
}

type fetchedMsg struct {
	pr *partReader
	km kafka.Message
}

// startReader starts reading partition p at offset, which may be
// kafka.FirstOffset.
func (s *subscription) startReader(ctx context.Context, p int, offset int64) *partReader {
	cfg := s.b.cfg
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        s.b.brokers,
		Topic:          s.topic,
		Partition:      p,
		MinBytes:       1,
		MaxBytes:       10e6,
		MaxWait:        cfg.maxWait,
		ReadBackoffMin: 10 * cfg.maxWait / 50,
		ReadBackoffMax: cfg.maxWait,
	})
	rctx, cancel := context.WithCancel(ctx)
	pr := &partReader{r: r, cancel: cancel}
	if err := r.SetOffset(offset); err != nil { // only fails for group readers
		cancel()
		s.fail.Do(func() { close(s.failed) })
	}
	s.wg.Add(1)
	go s.read(rctx, pr)
	return pr
}

// commit sends the pump's batches of offsets, one request at a time, so a
// slow commit batches the acks that arrive meanwhile instead of queueing a
// request per ack. Each request is bounded by WriteTimeout (the group's
// coordinator timeout).
func (s *subscription) commit() {
	defer s.wg.Done()
	for req := range s.commits {
		err := req.gen.CommitOffsets(map[string]map[int]int64{s.topic: req.offsets})
		s.results <- commitResult{commitReq: req, err: err}
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

// partQueue is an assigned partition's window: entries from the oldest one
// not done, in offset order. Only its done prefix is ever committed, so a
// commit never passes an unsettled or requeued message.
type partQueue struct {
	entries   []*entry
	out       int   // entries handed out and unsettled
	last      int64 // highest offset queued
	committed int64 // the group's offset to resume from, as far as this member knows
	pr        *partReader
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

// pump owns all subscription state: it hands out deliveries of the
// partitions the current generation assigns, takes settles, and decides
// what to commit through which generation. One goroutine runs it, so the
// state needs no lock (pumpState).
func (s *subscription) pump(ctx context.Context) {
	defer s.b.subs.Done()
	defer close(s.out)
	ps := &pumpState{s: s, cfg: s.b.cfg, parts: map[int]*partQueue{}, keysOut: map[string]int{}, toCommit: map[int]int64{}}
	defer ps.finish()
	for {
		ps.pickPending()
		var outCh chan bus.Delivery
		if ps.pending != nil {
			outCh = s.out
		}
		fetched := s.fetched
		if ps.buffered >= ps.cfg.maxBuffered {
			fetched = nil
		}
		if !ps.committing && ps.wait == nil && len(ps.toCommit) > 0 && ps.gen != nil {
			ps.sendCommit() // the committer is idle: this does not wait
		}
		select {
		case outCh <- ps.pendingD:
			ps.handedOut()
		case fm := <-fetched:
			ps.fetchedIn(fm)
		case <-s.settled:
			ps.settledIn()
		case res := <-s.results:
			ps.commitResultIn(res)
		case <-ps.wait:
			ps.wait = nil
		case g := <-s.gens:
			ps.pending, ps.pendingD = nil, nil
			ps.assign(ctx, g)
		case end := <-s.ends:
			ps.endIn(end)
		case <-s.failed:
			return
		case <-ctx.Done():
			return
		case <-s.b.done:
			return
		}
	}
}

// pumpState is the subscription's state, touched by the pump goroutine
// only (a delivery's revoked flag also under s.mu, for its reader).
type pumpState struct {
	s   *subscription
	cfg config

	gen      *kafka.Generation // nil between generations: nothing is handed out
	parts    map[int]*partQueue
	order    []int // assigned partitions, for round robin
	rr       int
	keysOut  map[string]int // keys with a delivery out, for per-key order
	buffered int

	toCommit   map[int]int64    // per partition: the offset after the done prefix, not yet committed
	committing bool             // a batch is with the committer
	wait       <-chan time.Time // CommitInterval after the last commit

	pending  *entry // the next entry to hand out, and its delivery
	pendingD *delivery
	spare    []settleReq
}

// pickPending chooses the next entry to hand out, round robin over the
// assigned partitions, when none is waiting.
func (ps *pumpState) pickPending() {
	if ps.pending != nil || ps.gen == nil {
		return
	}
	for i := range ps.order {
		p := ps.order[(ps.rr+i)%len(ps.order)]
		if e := ps.parts[p].next(ps.cfg.maxInFlight, ps.keysOut); e != nil {
			ps.pending = e
			ps.pendingD = &delivery{s: ps.s, e: e, km: e.km, msg: fromKafka(e.km)}
			ps.rr = (ps.rr + i + 1) % len(ps.order)
			return
		}
	}
}

// handedOut records that the subscriber took the pending delivery.
func (ps *pumpState) handedOut() {
	e := ps.pending
	e.state, e.d = out, ps.pendingD
	ps.parts[e.km.Partition].out++
	if len(e.km.Key) > 0 {
		ps.keysOut[string(e.km.Key)]++
	}
	ps.pending, ps.pendingD = nil, nil
}

// fetchedIn queues a fetched message, unless its partition was revoked.
func (ps *pumpState) fetchedIn(fm fetchedMsg) {
	pq := ps.parts[fm.km.Partition]
	if pq == nil || pq.pr != fm.pr || fm.km.Offset <= pq.last {
		return // from a revoked partition's reader
	}
	pq.last = fm.km.Offset
	pq.entries = append(pq.entries, &entry{km: fm.km})
	ps.buffered++
}

// settledIn applies the settles the subscriber made since the last time.
func (ps *pumpState) settledIn() {
	q := ps.s.takeSettles(ps.spare, false)
	for _, req := range q {
		ps.apply(req)
	}
	ps.spare = q
}

// endIn takes the end of a generation: hand out nothing more until the
// next one says which partitions are still this member's, and commit what
// is settled while this generation still may.
func (ps *pumpState) endIn(end genEnd) {
	if end.gen == ps.gen {
		ps.pending, ps.pendingD = nil, nil
		if ps.committing {
			ps.commitResultIn(<-ps.s.results)
		}
		if len(ps.toCommit) > 0 {
			ps.sendCommit()
			ps.commitResultIn(<-ps.s.results)
		}
		ps.gen = nil
	}
	close(end.done)
}

func (ps *pumpState) sendCommit() {
	offsets := make(map[int]int64, len(ps.toCommit))
	for p, off := range ps.toCommit {
		offsets[p] = off
		delete(ps.toCommit, p)
	}
	ps.s.commits <- commitReq{gen: ps.gen, offsets: offsets}
	ps.committing = true
}

func (ps *pumpState) commitResultIn(res commitResult) {
	ps.committing = false
	if res.err != nil {
		if res.gen != ps.gen {
			// Only the generation that owned the partitions may
			// commit them; the next one's assignment says where the
			// group resumes.
			return
		}
		// Not committed: keep the offsets unless a later one is
		// already waiting, and try again after a pause.
		for p, off := range res.offsets {
			if cur, ok := ps.toCommit[p]; !ok || cur < off {
				ps.toCommit[p] = off
			}
		}
		ps.wait = time.After(max(ps.cfg.commitEvery, 100*time.Millisecond))
		return
	}
	for p, off := range res.offsets {
		if pq := ps.parts[p]; pq != nil && pq.committed < off {
			pq.committed = off
		}
	}
	if ps.cfg.commitEvery > 0 {
		ps.wait = time.After(ps.cfg.commitEvery)
	}
}

func (ps *pumpState) keyDone(e *entry) {
	if len(e.km.Key) > 0 {
		k := string(e.km.Key)
		if ps.keysOut[k]--; ps.keysOut[k] == 0 {
			delete(ps.keysOut, k)
		}
	}
}

// revoke drops a partition this member no longer owns: its unsettled
// deliveries can no longer be settled, and nothing of it is committed.
func (ps *pumpState) revoke(p int, pq *partQueue) {
	ps.s.mu.Lock()
	for _, e := range pq.entries {
		if e.state == out {
			e.d.revoked = true
			ps.keyDone(e)
		}
	}
	ps.s.mu.Unlock()
	ps.buffered -= len(pq.entries)
	pq.pr.cancel()
	delete(ps.toCommit, p)
	delete(ps.parts, p)
}

// assign takes a new generation: a partition stays as it is when the
// group resumes it where this member's window starts (nobody else
// committed it since); any other is revoked, or read afresh.
func (ps *pumpState) assign(ctx context.Context, g *kafka.Generation) {
	assigned := map[int]int64{}
	for _, a := range g.Assignments[ps.s.topic] {
		assigned[a.ID] = a.Offset
	}
	kept := ps.order[:0]
	for _, p := range ps.order {
		pq := ps.parts[p]
		if off, ok := assigned[p]; ok && off == pq.committed {
			kept = append(kept, p)
			delete(assigned, p)
			continue
		}
		ps.revoke(p, pq)
	}
	ps.order = kept
	added := make([]int, 0, len(assigned))
	for p := range assigned {
		added = append(added, p)
	}
	slices.Sort(added)
	for _, p := range added {
		off := assigned[p]
		ps.parts[p] = &partQueue{last: -1, committed: off, pr: ps.s.startReader(ctx, p, off)}
		ps.order = append(ps.order, p)
	}
	ps.rr = 0
	ps.gen = g
}

// apply settles one delivery: a nack puts it back first in line; an ack
// marks it done and moves the partition's commit point over the done
// prefix.
func (ps *pumpState) apply(req settleReq) {
	e := req.d.e
	if req.d.revoked || e.state != out || e.d != req.d {
		return
	}
	pq := ps.parts[e.km.Partition]
	pq.out--
	ps.keyDone(e)
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
		ps.toCommit[e.km.Partition] = pq.entries[n-1].km.Offset + 1
		clear(pq.entries[:n])
		pq.entries = pq.entries[n:]
		ps.buffered -= n
	}
}

// finish ends the subscription: later settles are revoked, what was acked
// is committed before the channel closes (so the next member of the group
// starts after it), and the group is left.
func (ps *pumpState) finish() {
	s := ps.s
	s.cancel()                                     // stops join and the partition readers
	for _, req := range s.takeSettles(nil, true) { // later ones are revoked
		ps.apply(req)
	}
	if ps.committing {
		ps.commitResultIn(<-s.results)
	}
	if ps.gen != nil && len(ps.toCommit) > 0 {
		ps.sendCommit()
		<-s.results
	}
	close(s.commits)
	close(s.quit)
	_ = s.cg.Close() // leaves the group; it reports no error
	s.wg.Wait()
}

// delivery is one kafka message handed to the subscriber.
type delivery struct {
	s       *subscription
	e       *entry
	km      kafka.Message
	msg     *bus.Message
	settled atomic.Bool
	revoked bool // set by the pump, under s.mu, when its partition is revoked
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
	// Before claiming the delivery: a settle that fails here leaves it
	// unsettled for the caller to try again.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafkabus: settle %s/%d@%d: %w", d.km.Topic, d.km.Partition, d.km.Offset, err)
	}
	if !d.settled.CompareAndSwap(false, true) {
		return bus.ErrAlreadySettled
	}
	s := d.s
	s.mu.Lock()
	if s.stopped || d.revoked {
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
