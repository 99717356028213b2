package bustest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Timeout bounds each sub-test's waits; brokers that need longer to join a
// consumer group than this are too slow for the suite.
const Timeout = 30 * time.Second

var topicSeq atomic.Int64

// Topic returns a topic name unique to this test run, valid for Kafka and
// every other backend, so sub-tests never see each other's messages.
func Topic(tb testing.TB, suffix string) string {
	tb.Helper()
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, tb.Name())
	return fmt.Sprintf("bustest.%s.%s.%d.%d", name, suffix, time.Now().UnixNano()%1e9, topicSeq.Add(1))
}

// Run runs the conformance suite. newBus returns a fresh bus for each
// sub-test; the suite closes it (Close is part of what it checks), so
// newBus should not register a Close cleanup that fails on bus.ErrClosed.
func Run(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b bus.Bus)
	}{
		{"PublishThenSubscribe", testPublishThenSubscribe},
		{"SubscribeFirst", testSubscribeFirst},
		{"PerKeyOrderConcurrentPublishers", testPerKeyOrder},
		{"ConsumerGroupsEachGetAll", testConsumerGroups},
		{"NackRequeueRedelivers", testNackRequeue},
		{"ContextCancelClosesSubscription", testContextCancel},
		{"TopicIsolation", testTopicIsolation},
		{"CloseIdempotent", testCloseIdempotent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(t)
			t.Cleanup(func() { _ = b.Close() })
			tt.fn(t, b)
		})
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// msgs builds n messages over keys, with per-key sequence numbers from 1.
func msgs(topic, prefix string, n int, keys ...string) []*bus.Message {
	seq := map[string]int{}
	out := make([]*bus.Message, n)
	for i := range out {
		k := keys[i%len(keys)]
		seq[k]++
		out[i] = &bus.Message{
			ID: fmt.Sprintf("%s-%d", prefix, i), Topic: topic, Key: k,
			Payload: []byte(fmt.Sprintf("payload %d", i)),
			Headers: map[string]string{bus.HeaderSeq: strconv.Itoa(seq[k])},
		}
	}
	return out
}

// tally counts what a consumer saw against what was published.
type tally struct {
	mu        sync.Mutex
	want      map[string]bool
	seen      map[string]int
	lastSeq   map[string]int
	reordered int
	phantoms  int
}

func newTally(published []*bus.Message) *tally {
	tl := &tally{want: map[string]bool{}, seen: map[string]int{}, lastSeq: map[string]int{}}
	for _, m := range published {
		tl.want[m.ID] = true
	}
	return tl
}

func (tl *tally) add(m *bus.Message) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if !tl.want[m.ID] {
		tl.phantoms++
		return
	}
	tl.seen[m.ID]++
	if tl.seen[m.ID] > 1 {
		return // a duplicate says nothing new about order
	}
	seq, _ := strconv.Atoi(m.Header(bus.HeaderSeq))
	if seq != tl.lastSeq[m.Key]+1 {
		tl.reordered++
	}
	tl.lastSeq[m.Key] = seq
}

func (tl *tally) distinct() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.seen)
}

// check logs the counts and fails on any loss, duplicate, phantom or
// reordering.
func (tl *tally) check(t *testing.T, label string) {
	t.Helper()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var lost, dup int
	for id := range tl.want {
		switch n := tl.seen[id]; {
		case n == 0:
			lost++
		case n > 1:
			dup += n - 1
		}
	}
	t.Logf("%s: published=%d lost=%d duplicated=%d reordered=%d phantoms=%d",
		label, len(tl.want), lost, dup, tl.reordered, tl.phantoms)
	if lost+dup+tl.reordered+tl.phantoms > 0 {
		t.Errorf("%s: lost=%d duplicated=%d reordered=%d phantoms=%d, want all 0",
			label, lost, dup, tl.reordered, tl.phantoms)
	}
}

// consume acks deliveries into tl until it has seen n distinct messages.
func consume(ctx context.Context, t *testing.T, ch <-chan bus.Delivery, tl *tally, n int) {
	t.Helper()
	if err := consumeUntil(ctx, ch, tl, n); err != nil {
		t.Fatal(err)
	}
}

// consumeUntil is consume without the testing.T, for use beside goroutines.
func consumeUntil(ctx context.Context, ch <-chan bus.Delivery, tl *tally, n int) error {
	for tl.distinct() < n {
		var d bus.Delivery
		select {
		case d = <-ch:
		case <-ctx.Done():
		}
		if d == nil {
			return fmt.Errorf("got %d of %d messages before the wait ended", tl.distinct(), n)
		}
		tl.add(d.Message())
		if err := d.Ack(ctx); err != nil {
			return fmt.Errorf("ack %s: %w", d.Message().ID, err)
		}
	}
	return nil
}

// recv returns the next delivery, or nil when ctx ends or ch closes.
func recv(ctx context.Context, t *testing.T, ch <-chan bus.Delivery) bus.Delivery {
	t.Helper()
	select {
	case d, ok := <-ch:
		if !ok {
			return nil
		}
		return d
	case <-ctx.Done():
		return nil
	}
}

func subscribe(ctx context.Context, t *testing.T, b bus.Bus, topic, group string) <-chan bus.Delivery {
	t.Helper()
	ch, err := b.Subscribe(ctx, topic, group)
	if err != nil {
		t.Fatalf("subscribe %s/%s: %v", topic, group, err)
	}
	return ch
}

func publish(ctx context.Context, t *testing.T, b bus.Bus, ms ...*bus.Message) {
	t.Helper()
	if err := b.Publish(ctx, ms...); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func testPublishThenSubscribe(t *testing.T, b bus.Bus) {
	t.Helper()
	ctx := testContext(t)
	topic := Topic(t, "t")
	ms := msgs(topic, "m", 20, "a", "b", "c")
	publish(ctx, t, b, ms...)
	tl := newTally(ms)
	consume(ctx, t, subscribe(ctx, t, b, topic, "g"), tl, len(ms))
	tl.check(t, "publish-then-subscribe")
}

func testSubscribeFirst(t *testing.T, b bus.Bus) {
	t.Helper()
	ctx := testContext(t)
	topic := Topic(t, "t")
	ch := subscribe(ctx, t, b, topic, "g")
	ms := msgs(topic, "m", 20, "a", "b")
	for _, m := range ms {
		publish(ctx, t, b, m)
	}
	tl := newTally(ms)
	consume(ctx, t, ch, tl, len(ms))
	tl.check(t, "subscribe-first")
}

func testPerKeyOrder(t *testing.T, b bus.Bus) {
	t.Helper()
	ctx := testContext(t)
	topic := Topic(t, "t")
	const publishers, keysEach, rounds = 4, 3, 40
	var all []*bus.Message
	batches := make([][][]*bus.Message, publishers) // publisher → round → batch
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
	ch := subscribe(ctx, t, b, topic, "g")
	pctx, stop := context.WithCancel(ctx) // a failed publish ends the wait
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, batch := range batches[p] {
				if err := b.Publish(ctx, batch...); err != nil {
					errs <- err
					stop()
					return
				}
			}
		}()
	}
	tl := newTally(all)
	consumeErr := consumeUntil(pctx, ch, tl, len(all))
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("publish: %v", err)
	}
	if consumeErr != nil {
		t.Fatal(consumeErr)
	}
	tl.check(t, "per-key order")
}

func testConsumerGroups(t *testing.T, b bus.Bus) {
	t.Helper()
	ctx := testContext(t)
	topic := Topic(t, "t")
	ms := msgs(topic, "m", 15, "a", "b", "c")
	publish(ctx, t, b, ms...)
	for _, g := range []string{"g1", "g2"} {
		tl := newTally(ms)
		consume(ctx, t, subscribe(ctx, t, b, topic, g), tl, len(ms))
		tl.check(t, "group "+g)
	}
}

func testNackRequeue(t *testing.T, b bus.Bus) {
	t.Helper()
	ctx := testContext(t)
	topic := Topic(t, "t")
	ms := msgs(topic, "m", 2, "same-key")
	publish(ctx, t, b, ms...)
	ch := subscribe(ctx, t, b, topic, "g")

	want := []struct {
		id     string
		settle string
	}{{"m-0", "requeue"}, {"m-0", "requeue"}, {"m-0", "ack"}, {"m-1", "drop"}}
	for i, w := range want {
		d := recv(ctx, t, ch)
		if d == nil {
			t.Fatalf("step %d: no delivery", i)
		}
		if got := d.Message().ID; got != w.id {
			t.Fatalf("step %d: got %s, want %s (a requeued message must come back before later ones of its key)", i, got, w.id)
		}
		var err error
		switch w.settle {
		case "requeue":
			err = d.Nack(ctx, true)
		case "ack":
			err = d.Ack(ctx)
		case "drop":
			err = d.Nack(ctx, false)
		}
		if err != nil {
			t.Fatalf("step %d: %s: %v", i, w.settle, err)
		}
		if err := d.Ack(ctx); !errors.Is(err, bus.ErrAlreadySettled) {
			t.Fatalf("step %d: second settle = %v, want ErrAlreadySettled", i, err)
		}
	}
	// Nothing further may arrive: m-0 was acked and m-1 dropped. Publish a
	// marker and require it to be the next delivery.
	marker := &bus.Message{ID: "marker", Topic: topic, Key: "same-key", Headers: map[string]string{}}
	publish(ctx, t, b, marker)
	d := recv(ctx, t, ch)
	if d == nil || d.Message().ID != "marker" {
		t.Fatalf("after ack and drop, next delivery = %v, want marker", d)
	}
	_ = d.Ack(ctx)
}

func testContextCancel(t *testing.T, b bus.Bus) {
	t.Helper()
	ctx := testContext(t)
	topic := Topic(t, "t")
	publish(ctx, t, b, msgs(topic, "m", 3, "a")...)
	sctx, cancel := context.WithCancel(ctx)
	ch := subscribe(sctx, t, b, topic, "g")
	if d := recv(ctx, t, ch); d == nil {
		t.Fatal("no delivery before cancel")
	}
	cancel()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-ctx.Done():
			t.Fatal("subscription channel did not close after ctx cancel")
		}
	}
}

func testTopicIsolation(t *testing.T, b bus.Bus) {
	t.Helper()
	ctx := testContext(t)
	ta, tb := Topic(t, "a"), Topic(t, "b")
	publish(ctx, t, b, msgs(ta, "a", 5, "k")...)
	publish(ctx, t, b, &bus.Message{ID: "b-marker", Topic: tb, Key: "k"})
	d := recv(ctx, t, subscribe(ctx, t, b, tb, "g"))
	if d == nil {
		t.Fatal("no delivery on topic b")
	}
	if d.Message().ID != "b-marker" || d.Message().Topic != tb {
		t.Fatalf("topic b delivered %s (topic %s), want b-marker", d.Message().ID, d.Message().Topic)
	}
	_ = d.Ack(ctx)
}

func testCloseIdempotent(t *testing.T, b bus.Bus) {
	t.Helper()
	ctx := testContext(t)
	topic := Topic(t, "t")
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := subscribe(sctx, t, b, topic, "g")
	if err := b.Close(); err != nil {
		t.Fatalf("first Close = %v", err)
	}
	if err := b.Close(); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if err := b.Publish(ctx, &bus.Message{ID: "x", Topic: topic}); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
	if _, err := b.Subscribe(ctx, topic, "g2"); err == nil {
		t.Fatal("Subscribe after Close succeeded")
	}
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-ctx.Done():
			t.Fatal("subscription channel did not close after Close")
		}
	}
}
