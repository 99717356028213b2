package bustest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
)

// quietPeriod is how long SlowConsumerBackpressure waits without a new
// delivery before it takes the subscription to have stopped handing out
// more. Under load a backend may pause longer before reaching its bound;
// that only makes the measured maximum lower, never a false failure.
const quietPeriod = time.Second

// keyedBatches builds publishers × rounds batches, each publisher with its
// own keysEach keys, and returns every message too.
func keyedBatches(topic string, publishers, keysEach, rounds int) (all []*bus.Message, batches [][][]*bus.Message) {
	batches = make([][][]*bus.Message, publishers) // publisher → round → batch
	for p := 0; p < publishers; p++ {
		keys := make([]string, keysEach)
		for k := range keys {
			keys[k] = fmt.Sprintf("p%d-k%d", p, k)
		}
		ms := msgs(topic, fmt.Sprintf("p%d", p), keysEach*rounds, keys...)
		all = append(all, ms...)
		for r := 0; r < rounds; r++ {
			batches[p] = append(batches[p], ms[r*keysEach:(r+1)*keysEach])
		}
	}
	return all, batches
}

// member consumes ch into tl as one member of a group among others: a
// failed ack (the delivery was revoked and handed to another member) is
// not an error, the message simply stays unacked in tl.
func member(ctx context.Context, ch <-chan bus.Delivery, tl *tally, progress chan<- struct{}) {
	for {
		var d bus.Delivery
		select {
		case d = <-ch:
		case <-ctx.Done():
		}
		if d == nil {
			return
		}
		m := d.Message()
		if tl.add(m) {
			tl.done(m) // before the ack: the broker may hand the key on after it
		}
		if d.Ack(ctx) == nil {
			tl.ack(m.ID)
		}
		select {
		case progress <- struct{}{}:
		default:
		}
	}
}

// waitAcked waits until tl has n acked messages or ctx ends.
func waitAcked(ctx context.Context, tl *tally, n int, progress <-chan struct{}) error {
	for tl.distinct() < n {
		select {
		case <-progress:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d messages acked before the wait ended", tl.distinct(), n)
		}
	}
	return nil
}

func testConcurrentPubSub(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	const publishers, members, keysEach, rounds = 4, 3, 4, 25
	all, batches := keyedBatches(topic, publishers, keysEach, rounds)
	tl := newTally(all)
	mctx, stopMembers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	progress := make(chan struct{}, 1)
	for i := 0; i < members; i++ {
		ch := subscribe(mctx, t, s.b, topic, "g")
		wg.Add(1)
		go func() {
			defer wg.Done()
			member(mctx, ch, tl, progress)
		}()
	}
	pctx, stop := context.WithCancel(ctx) // a failed publish ends the wait
	defer stop()
	errs := publishConcurrently(ctx, stop, s.b, batches)
	waitErr := waitAcked(pctx, tl, len(all), progress)
	stopMembers()
	wg.Wait()
	s.measure(t, fmt.Sprintf("%d publishers, %d members", publishers, members), ScopeGroup, tl.counts())
	for err := range errs {
		t.Fatalf("publish: %v", err)
	}
	if waitErr != nil {
		t.Fatal(waitErr)
	}
}

func testManyTopics(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	const topics, perTopic = 20, 10
	names := make([]string, topics)
	var all []*bus.Message
	tallies := make([]*tally, topics)
	for i := range names {
		names[i] = Topic(t, fmt.Sprintf("t%d", i))
		ms := msgs(names[i], fmt.Sprintf("t%d", i), perTopic, "a", "b")
		tallies[i] = newTally(ms)
		all = append(all, ms...)
	}
	publish(ctx, t, s.b, all...) // one batch over every topic
	var wg sync.WaitGroup
	errs := make([]error, topics)
	for i := range names {
		ch := subscribe(ctx, t, s.b, names[i], "g")
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = consumeUntil(ctx, ch, tallies[i], perTopic)
		}()
	}
	wg.Wait()
	var c Counts
	for _, tl := range tallies {
		c = c.add(tl.counts())
	}
	s.measure(t, fmt.Sprintf("%d topics", topics), ScopeSubscription, c)
	for i, err := range errs {
		if err != nil {
			t.Errorf("topic %d: %v", i, err)
		}
	}
}

// testContinueAfterClose acks part of a topic with one subscription, holds
// a few deliveries unsettled, cancels it and then nacks them with requeue;
// a new member of the same group must get everything not acked (the held
// ones again) and nothing acked.
func testContinueAfterClose(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	const total, ackFirst, hold = 60, 20, 5
	ms := msgs(topic, "m", total, "a", "b", "c")
	publish(ctx, t, s.b, ms...)
	tl := newTally(ms)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch1 := subscribe(sctx, t, s.b, topic, "g")
	if err := consumeUntil(ctx, ch1, tl, ackFirst); err != nil {
		s.measure(t, "first subscriber", ScopeGroup, tl.counts())
		t.Fatal(err)
	}
	// A backend with one delivery per partition may hand out fewer.
	held := takeUnsettled(ctx, ch1, hold)
	if len(held) == 0 {
		t.Fatal("first subscriber: no delivery to hold")
	}
	for _, d := range held {
		tl.add(d.Message()) // delivered, never processed
	}
	cancel()
	waitClosed(ctx, t, ch1, "ctx cancel")
	// A consumer shutting down requeues its unfinished work, as
	// bus.Consume does, after its subscription ended: a backend either
	// revoked the delivery already (the error) or takes the nack, and
	// either way the group must get it again now rather than after an
	// ack timeout.
	for _, d := range held {
		_ = d.Nack(ctx, true)
	}
	s.consumeAndMeasure(ctx, t, subscribe(ctx, t, s.b, topic, "g"), tl, "second subscriber after the first closed", ScopeGroup)
}

// testSlowConsumer publishes many messages over many keys and takes
// deliveries without settling any, until the subscription stops handing
// them out: that count is its back-pressure bound. Then it settles them and
// drains the rest, which must all arrive.
func testSlowConsumer(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	n := s.f.BackpressureMessages
	keys := make([]string, max(n/4, 1))
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	ms := msgs(topic, "m", n, keys...)
	for i := 0; i < len(ms); i += 200 {
		publish(ctx, t, s.b, ms[i:min(i+200, len(ms))]...)
	}
	tl := newTally(ms)
	ch := subscribe(ctx, t, s.b, topic, "g")
	held := takeUnsettled(ctx, ch, n)
	unsettled := len(held)
	for _, d := range held {
		m := d.Message()
		if tl.add(m) {
			tl.done(m)
		}
		if err := d.Ack(ctx); err != nil {
			t.Errorf("ack held %s: %v", m.ID, err)
			continue
		}
		tl.ack(m.ID)
	}
	err := consumeUntil(ctx, ch, tl, n)
	c := tl.counts()
	c.MaxUnsettled = unsettled
	s.measure(t, fmt.Sprintf("%d messages, none settled until delivery stopped", n), ScopeSubscription, c)
	if err != nil {
		t.Fatal(err)
	}
}

// takeUnsettled receives up to limit deliveries without settling any: it
// waits for the first as long as ctx allows, then stops once quietPeriod
// passes without another (the subscription has reached its bound).
func takeUnsettled(ctx context.Context, ch <-chan bus.Delivery, limit int) []bus.Delivery {
	var held []bus.Delivery
	select {
	case d, ok := <-ch:
		if !ok {
			return nil
		}
		held = append(held, d)
	case <-ctx.Done():
		return nil
	}
	quiet := time.NewTimer(quietPeriod)
	defer quiet.Stop()
	for len(held) < limit {
		select {
		case d, ok := <-ch:
			if !ok {
				return held
			}
			held = append(held, d)
			quiet.Reset(quietPeriod)
		case <-quiet.C:
			return held
		case <-ctx.Done():
			return held
		}
	}
	return held
}
