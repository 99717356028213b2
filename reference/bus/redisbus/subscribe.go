package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edkit-dev/edkit/reference/backoff"
	"github.com/edkit-dev/edkit/reference/bus"
)

// renewScript renews (IDLE 0) the entries in ARGV[3..] that are still
// pending for consumer ARGV[2], atomically, so it neither takes back an
// entry another member has just reclaimed nor renews an entry the
// subscription never received: an entry whose XREADGROUP reply was lost
// (a broker restart closing the connection mid-reply) sits in this
// consumer's pending list unseen, and renewing it would strand it there
// for the subscription's whole life.
var renewScript = redis.NewScript(`
local ids = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #p == 1 then ids[#ids+1] = ARGV[i] end
end
if #ids == 0 then return 0 end
local args = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
for _, id in ipairs(ids) do args[#args+1] = id end
args[#args+1] = 'IDLE'
args[#args+1] = 0
args[#args+1] = 'JUSTID'
redis.call(unpack(args))
return #ids
`)

// releaseScript releases (IDLE large) every entry the consumer owns,
// atomically, so it never touches an entry another member has just
// reclaimed. With ARGV[4] = "1" a consumer owning nothing is deleted,
// which is only safe when nothing can be handed to it any more.
var releaseScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[3]), ARGV[2])
if #p == 0 then
  if ARGV[5] == '1' then redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) end
  return 0
end
local args = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
for _, e in ipairs(p) do args[#args+1] = e[1] end
args[#args+1] = 'IDLE'
args[#args+1] = ARGV[4]
args[#args+1] = 'JUSTID'
redis.call(unpack(args))
return #p
`)

// releasedIdle is the idle time given to entries a subscription leaves
// unsettled: longer than any sensible MinIdle, so the next member reclaims
// them at once.
const releasedIdle = 365 * 24 * time.Hour

// Subscribe joins group on topic as a new consumer, creating the stream and
// the group (from the stream's start) when missing. The channel closes when
// ctx is done or the Bus closes.
func (b *Bus) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	if topic == "" {
		return nil, ErrNoTopic
	}
	if group == "" {
		return nil, ErrNoGroup
	}
	if b.isClosed() {
		return nil, bus.ErrClosed
	}
	key := b.StreamKey(topic)
	if err := b.ensureGroup(ctx, key, group); err != nil {
		return nil, err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails on Linux
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, bus.ErrClosed
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &subscription{
		b: b, key: key, topic: topic, group: group,
		consumer: "edkit-" + hex.EncodeToString(rnd[:]),
		cancel:   cancel,
		out:      make(chan bus.Delivery),
		fetched:  make(chan []*entry),
		settles:  make(chan settleReq),
		done:     make(chan struct{}),
		tokens:   make(chan struct{}, b.cfg.maxInFlight),
		acks:     make(chan string, b.cfg.maxInFlight),
		held:     map[string]bool{},
	}
	for i := 0; i < b.cfg.maxInFlight; i++ {
		s.tokens <- struct{}{}
	}
	b.subs.Add(1)
	s.renewing.Add(2)
	go s.renew(sctx)
	go s.retryAcks(sctx)
	go s.fetch(sctx)
	go s.pump(sctx)
	return s.out, nil
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *Bus) ensureGroup(ctx context.Context, key, group string) error {
	err := b.client.XGroupCreateMkStream(ctx, key, group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("redisbus: create group %s on %s: %w", group, key, err)
	}
	return nil
}

type subscription struct {
	b                           *Bus
	key, topic, group, consumer string
	cancel                      context.CancelFunc
	out                         chan bus.Delivery
	fetched                     chan []*entry
	settles                     chan settleReq
	done                        chan struct{} // closed when the pump stops
	tokens                      chan struct{} // one per entry that may be held
	acks                        chan string   // processed entries whose XACK failed, to retry
	renewing                    sync.WaitGroup
	mu                          sync.Mutex
	held                        map[string]bool // stream IDs read and not yet settled
}

// entry is one stream entry held by the subscription.
type entry struct {
	id      string // stream ID
	ms, seq uint64
	qkey    string // ordering key
	msg     *bus.Message
	attempt int
}

func newEntry(topic string, xm redis.XMessage, attempt int) *entry {
	e := &entry{id: xm.ID, msg: fromEntry(topic, xm), attempt: attempt}
	ms, seq, _ := strings.Cut(xm.ID, "-")
	e.ms, _ = strconv.ParseUint(ms, 10, 64)
	e.seq, _ = strconv.ParseUint(seq, 10, 64)
	e.qkey = "k" + e.msg.Key
	if e.msg.Key == "" {
		e.qkey = "#" + xm.ID // keyless: its own queue, unordered
	}
	return e
}

func (e *entry) before(o *entry) bool {
	return e.ms < o.ms || (e.ms == o.ms && e.seq < o.seq)
}

type settleReq struct {
	d       *delivery
	advance bool // false: requeue at the head of its key
	// ackLater: processed, but its XACK failed; the entry stays held (and
	// renewed) while retryAcks retries it.
	ackLater bool
}

// renew keeps the entries the subscription holds (queued or in a handler)
// from looking idle to other members. It runs apart from fetch so a
// blocking read never delays it.
func (s *subscription) renew(ctx context.Context) {
	defer s.renewing.Done()
	t := time.NewTicker(s.b.cfg.minIdle / 3)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.renewHeld(ctx)
		case <-ctx.Done():
			return
		}
	}
}

// fetch reads entries, as many as there are tokens, from three sources in
// this order: the consumer's own pending entries it never received (after
// a failed command, whose reply may have carried entries), entries idle
// for MinIdle in any member's pending list, and new entries.
func (s *subscription) fetch(ctx context.Context) {
	defer close(s.fetched)
	src := sources{reclaimEvery: time.NewTicker(s.b.cfg.minIdle / 2), reclaimDue: true, claimCursor: "0-0"}
	defer src.reclaimEvery.Stop()
	credit := 0
	retry := backoff.New(10*time.Millisecond, time.Second)
	for {
		if credit == 0 {
			select {
			case <-s.tokens:
				credit = 1
			case <-src.reclaimEvery.C:
				src.reclaimDue = true
				continue
			case <-ctx.Done():
				return
			}
		}
		credit += s.moreTokens(int(s.b.cfg.count) - credit)
		batch, err := s.next(ctx, &src, credit)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The reply of the failed command may have handed entries to
			// this consumer that never arrived: look for them first.
			src.recoverFrom = "0-0"
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				_ = s.b.ensureGroup(ctx, s.key, s.group) // the stream was deleted; start again
			}
			if !retry.Sleep(ctx) {
				return
			}
			continue
		}
		retry.Reset()
		batch = s.hold(batch)
		credit -= len(batch)
		if len(batch) == 0 {
			continue
		}
		select {
		case s.fetched <- batch:
		case <-ctx.Done():
			return
		}
	}
}

// moreTokens takes up to n more tokens without waiting.
func (s *subscription) moreTokens(n int) int {
	got := 0
	for got < n {
		select {
		case <-s.tokens:
			got++
		default:
			return got
		}
	}
	return got
}

// sources is fetch's state: where its next entries come from.
type sources struct {
	recoverFrom  string // "": nothing to recover; else the next own pending ID to look at
	reclaimEvery *time.Ticker
	reclaimDue   bool
	claimCursor  string
}

// next returns up to n entries from the first source that has any.
func (s *subscription) next(ctx context.Context, src *sources, n int) ([]*entry, error) {
	select {
	case <-src.reclaimEvery.C:
		src.reclaimDue = true
	default:
	}
	if src.recoverFrom != "" {
		batch, err := s.recoverOwn(ctx, src, n)
		if err != nil || len(batch) > 0 {
			return batch, err
		}
	}
	if src.reclaimDue {
		batch, err := s.reclaim(ctx, src, n)
		if err != nil || len(batch) > 0 {
			return batch, err
		}
	}
	return s.read(ctx, n)
}

// hold drops entries the subscription already holds (reclaimed from
// itself after a missed renewal, or found again in its own pending list)
// and records the rest.
func (s *subscription) hold(batch []*entry) []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := batch[:0]
	for _, e := range batch {
		if !s.held[e.id] {
			s.held[e.id] = true
			out = append(out, e)
		}
	}
	return out
}

func (s *subscription) unhold(id string) {
	s.mu.Lock()
	delete(s.held, id)
	s.mu.Unlock()
}

func (s *subscription) heldIDs() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]any, 0, len(s.held))
	for id := range s.held {
		ids = append(ids, id)
	}
	return ids
}

func (s *subscription) isHeld(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[id]
}

func (s *subscription) read(ctx context.Context, n int) ([]*entry, error) {
	res, err := s.b.client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: s.group, Consumer: s.consumer, Streams: []string{s.key, ">"},
		Count: int64(n), Block: s.b.cfg.block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*entry
	for _, st := range res {
		for _, xm := range st.Messages {
			out = append(out, newEntry(s.topic, xm, 1))
		}
	}
	return out, nil
}

// recoverOwn pages through this consumer's pending list (XREADGROUP from
// an ID reads it instead of new entries) for entries it does not hold:
// ones Redis handed it in a reply that was lost. Entries deleted or
// trimmed since are acknowledged, as there is nothing left to deliver.
func (s *subscription) recoverOwn(ctx context.Context, src *sources, n int) ([]*entry, error) {
	page := max(int64(n), s.b.cfg.count)
	for {
		res, err := s.b.client.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: s.group, Consumer: s.consumer, Streams: []string{s.key, src.recoverFrom}, Count: page,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		var msgs []redis.XMessage
		for _, st := range res {
			msgs = append(msgs, st.Messages...)
		}
		if len(msgs) == 0 {
			src.recoverFrom = "" // the whole list was looked at
			return nil, nil
		}
		var live []redis.XMessage
		for _, xm := range msgs {
			if len(live) == n {
				break
			}
			src.recoverFrom = xm.ID
			switch {
			case xm.Values == nil:
				_ = s.b.client.XAck(ctx, s.key, s.group, xm.ID).Err() // gone; retried on the next recovery
			case !s.isHeld(xm.ID):
				live = append(live, xm)
			}
		}
		if len(live) > 0 {
			return s.withAttempts(ctx, live), nil
		}
	}
}

// reclaim takes over entries idle for MinIdle in any consumer's pending
// list (its own included: one it never received and so never renewed).
func (s *subscription) reclaim(ctx context.Context, src *sources, n int) ([]*entry, error) {
	msgs, next, err := s.b.client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: s.key, Group: s.group, Consumer: s.consumer,
		MinIdle: s.b.cfg.minIdle, Start: src.claimCursor, Count: int64(n),
	}).Result()
	if err != nil {
		return nil, err
	}
	src.claimCursor = next
	if next == "0-0" {
		src.reclaimDue = false // a full pass is done
	}
	var live []redis.XMessage
	for _, xm := range msgs {
		if xm.Values != nil { // nil: deleted or trimmed since it was read
			live = append(live, xm)
		}
	}
	return s.withAttempts(ctx, live), nil
}

// withAttempts makes entries of messages taken from a pending list, with
// the delivery counts Redis keeps for them.
func (s *subscription) withAttempts(ctx context.Context, live []redis.XMessage) []*entry {
	if len(live) == 0 {
		return nil
	}
	counts := map[string]int{}
	pend, err := s.b.client.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: s.key, Group: s.group, Consumer: s.consumer,
		Start: live[0].ID, End: live[len(live)-1].ID, Count: int64(len(live) + s.b.cfg.maxInFlight),
	}).Result()
	if err == nil {
		for _, p := range pend {
			counts[p.ID] = int(p.RetryCount)
		}
	}
	out := make([]*entry, len(live))
	for i, xm := range live {
		out[i] = newEntry(s.topic, xm, max(counts[xm.ID], 1))
	}
	return out
}

// renewHeld resets the idle time of the entries the subscription holds.
// Best effort: a failed renewal only risks a duplicate delivery by another
// member.
func (s *subscription) renewHeld(ctx context.Context) {
	ids := s.heldIDs()
	if len(ids) == 0 {
		return
	}
	args := append([]any{s.group, s.consumer}, ids...)
	_ = renewScript.Run(ctx, s.b.client, []string{s.key}, args...).Err()
}

// release marks every entry this consumer owns as idle for a year, so the
// next member reclaims them at once, and deletes the consumer when it
// owns nothing. Best effort: a failed release only delays redelivery until
// the entries are MinIdle old.
func (s *subscription) release(ctx context.Context) {
	limit := 2*s.b.cfg.maxInFlight + int(s.b.cfg.count)
	_ = releaseScript.Run(ctx, s.b.client, []string{s.key},
		s.group, s.consumer, limit, releasedIdle.Milliseconds(), "1").Err()
}

type keyQueue struct {
	queue    []*entry // queue[0] is in flight when inflight is set
	inflight *delivery
}

func (s *subscription) pump(ctx context.Context) {
	defer s.b.subs.Done()
	defer close(s.out)
	defer func() {
		s.cancel()
		close(s.done)
		for range s.fetched { // let fetch and renew stop before releasing
		}
		s.renewing.Wait()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		s.release(rctx)
	}()

	queues := map[string]*keyQueue{}
	var ready []string // keys with a queued head and nothing in flight
	var pending *delivery
	for {
		if pending == nil && len(ready) > 0 {
			pending = newDelivery(s, queues[ready[0]].queue[0])
		}
		var out chan bus.Delivery
		if pending != nil {
			out = s.out
		}
		select {
		case out <- pending:
			q := queues[pending.e.qkey]
			q.inflight = pending
			ready = ready[1:]
			pending = nil
		case batch, ok := <-s.fetched:
			if !ok {
				return
			}
			for _, e := range batch {
				q := queues[e.qkey]
				if q == nil {
					q = &keyQueue{}
					queues[e.qkey] = q
				}
				if len(q.queue) == 0 && q.inflight == nil {
					ready = append(ready, e.qkey)
				}
				q.insert(e)
			}
			if pending != nil && queues[pending.e.qkey].queue[0] != pending.e {
				pending = nil // an older reclaimed entry of that key goes first
			}
		case req := <-s.settles:
			k := req.d.e.qkey
			q := queues[k]
			if q == nil || q.inflight != req.d {
				continue
			}
			q.inflight = nil
			if req.advance {
				q.queue = q.queue[1:]
				if req.ackLater {
					s.acks <- req.d.e.id // never blocks: one slot per held entry
				} else {
					s.unhold(req.d.e.id)
					s.tokens <- struct{}{}
				}
			} else {
				q.queue[0].attempt++
			}
			switch {
			case len(q.queue) == 0:
				delete(queues, k)
			case req.advance:
				ready = append(ready, k)
			default:
				// A requeued head is delivered again first.
				ready = append([]string{k}, ready...)
				pending = nil
			}
		case <-ctx.Done():
			return
		case <-s.b.done:
			return
		}
	}
}

// insert places e in stream order, but never before an entry in flight.
func (q *keyQueue) insert(e *entry) {
	lo := 0
	if q.inflight != nil {
		lo = 1
	}
	i := lo + sort.Search(len(q.queue)-lo, func(i int) bool { return e.before(q.queue[lo+i]) })
	q.queue = append(q.queue, nil)
	copy(q.queue[i+1:], q.queue[i:])
	q.queue[i] = e
}

// delivery is one stream entry handed to the subscriber.
type delivery struct {
	s       *subscription
	e       *entry
	msg     *bus.Message
	attempt int
	settled atomic.Bool
}

var _ bus.Delivery = (*delivery)(nil)

func newDelivery(s *subscription, e *entry) *delivery {
	m := e.msg.Clone()
	m.SetHeader(bus.HeaderAttempt, strconv.Itoa(e.attempt))
	return &delivery{s: s, e: e, msg: m, attempt: e.attempt}
}

func (d *delivery) Message() *bus.Message { return d.msg }

// StreamID is the entry's Redis stream ID, for recorders that check
// positions.
func (d *delivery) StreamID() string { return d.e.id }

// Attempt is the delivery attempt, from 1: Redis's delivery count when the
// entry was read or reclaimed, plus local requeues. It is also in the
// message's bus.HeaderAttempt header.
func (d *delivery) Attempt() int { return d.attempt }

// Ack acknowledges the entry (XACK) and lets its key move on.
func (d *delivery) Ack(ctx context.Context) error { return d.settle(ctx, true) }

// Nack with requeue delivers the entry again before anything later of its
// key; without, it acknowledges it (the message is dropped).
func (d *delivery) Nack(ctx context.Context, requeue bool) error { return d.settle(ctx, !requeue) }

func (d *delivery) settle(ctx context.Context, advance bool) error {
	if !d.settled.CompareAndSwap(false, true) {
		return bus.ErrAlreadySettled
	}
	s := d.s
	select {
	case <-s.done:
		return ErrRevoked
	default:
	}
	var aerr error
	ackLater := false
	if advance {
		if aerr = s.ack(ctx, d.e.id); aerr != nil {
			// Processed but not acked (Redis restarting, say): the key
			// moves on and the subscription retries the XACK itself.
			// Handing the entry back instead made a handler run it again
			// and again, tens of thousands of times in a 2 s outage.
			ackLater = true
			aerr = fmt.Errorf("redisbus: ack %s %s: %w: %w", s.key, d.e.id, ErrAckPending, aerr)
		}
	}
	select {
	case s.settles <- settleReq{d: d, advance: advance, ackLater: ackLater}:
		return aerr
	case <-s.done:
		if aerr != nil {
			return aerr
		}
		if advance {
			return nil // acked before the subscription ended
		}
		return ErrRevoked
	}
}

// retryAcks retries, with jittered backoff, the XACKs that failed, and
// releases each entry once Redis took its ack. Entries still waiting when
// the subscription ends are released with the rest, so another member
// redelivers them: a duplicate, never a loss.
func (s *subscription) retryAcks(ctx context.Context) {
	defer s.renewing.Done()
	retry := backoff.New(20*time.Millisecond, time.Second)
	for {
		var id string
		select {
		case id = <-s.acks:
		case <-ctx.Done():
			return
		}
		for s.ack(ctx, id) != nil {
			if !retry.Sleep(ctx) {
				return
			}
		}
		retry.Reset()
		s.unhold(id)
		s.tokens <- struct{}{}
	}
}

func (s *subscription) ack(ctx context.Context, id string) error {
	if !s.b.cfg.deleteOnAck {
		return s.b.client.XAck(ctx, s.key, s.group, id).Err()
	}
	_, err := s.b.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, s.key, s.group, id)
		p.XDel(ctx, s.key, id)
		return nil
	})
	return err
}
