package bustest

import (
	"context"
	"errors"
	"fmt"
	"os"
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

// Groups are the consumer groups the suite subscribes, for backends that
// must provision a group before the first publish to keep it (AMQP).
func Groups() []string { return []string{"g", "g1", "g2"} }

// Run runs the conformance suite as the sub-test f.Name, one sub-test per
// case: TestConformance/<f.Name>/<case>. newBus returns a fresh bus for each
// case; the suite closes it (Close is part of what it checks), so newBus
// should not register a Close cleanup that fails on bus.ErrClosed.
//
// Each case measures lost, duplicated and reordered messages and fails
// only where f promised better (loss always fails). After the cases, a
// verbose run logs the backend's guarantee table, and when the environment
// variable EDKIT_GUARANTEES_OUT names a file, the measurements are merged
// into it (see docs/guarantees.md).
func Run(t *testing.T, f Features, newBus func(t *testing.T) bus.Bus) {
	t.Helper()
	f = f.withDefaults()
	rec := &recorder{rep: report{Backend: f.Name, Features: f}}
	t.Run(f.Name, func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				b := newBus(t)
				t.Cleanup(func() { _ = b.Close() })
				c.fn(t, &session{b: b, f: f, newBus: newBus, rec: rec, name: c.name})
			})
		}
	})
	rep := rec.snapshot()
	if testing.Verbose() {
		t.Log("\n" + rep.text())
	}
	if out := os.Getenv(GuaranteesOutEnv); out != "" {
		if err := mergeMarkdown(out, rep, time.Now()); err != nil {
			t.Errorf("write guarantee table: %v", err)
		}
	}
}

// cases is the suite, in run order.
var cases = []struct {
	name string
	fn   func(t *testing.T, s *session)
}{
	{"PublishThenSubscribe", testPublishThenSubscribe},
	{"SubscribeFirst", testSubscribeFirst},
	{"PerKeyOrderConcurrentPublishers", testPerKeyOrder},
	{"ConsumerGroupsEachGetAll", testConsumerGroups},
	{"NackRequeueRedelivers", testNackRequeue},
	{"RequeueStorm", testRequeueStorm},
	{"ContextCancelClosesSubscription", testContextCancel},
	{"TopicIsolation", testTopicIsolation},
	{"CloseIdempotent", testCloseIdempotent},
	{"ConcurrentPublishersAndSubscribers", testConcurrentPubSub},
	{"ManyTopics", testManyTopics},
	{"ContinueAfterSubscriberClose", testContinueAfterClose},
	{"DLQAfterNAttempts", testDLQAfterNAttempts},
	{"DedupUnderRedelivery", testDedupUnderRedelivery},
	{"SlowConsumerBackpressure", testSlowConsumer},
}

// session is what a case works with: the bus under test, the profile it
// is held to and the recorder of its measurements.
type session struct {
	b      bus.Bus
	f      Features
	newBus func(t *testing.T) bus.Bus
	rec    *recorder
	name   string
}

// ctx is a context bounded by the profile's timeout and the test.
func (s *session) ctx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.f.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// measure logs c, records it for the table, and fails the test for every
// promise of the profile it breaks.
func (s *session) measure(t *testing.T, label string, scope Scope, c Counts) {
	t.Helper()
	v := s.f.Violations(scope, c)
	t.Logf("%s: %v (order scope %s)", label, c, scope)
	for _, line := range v {
		t.Errorf("%s: %s", label, line)
	}
	s.rec.add(row{Case: s.name, Label: label, Scope: scope, Counts: c, Violations: len(v)})
}

// consumeAndMeasure consumes ch into tl until every expected message is
// acked or the wait ends, then measures; an early end fails the test after
// the counts are recorded (the loss shows in them).
func (s *session) consumeAndMeasure(ctx context.Context, t *testing.T, ch <-chan bus.Delivery, tl *tally, label string, scope Scope) {
	t.Helper()
	err := consumeUntil(ctx, ch, tl, len(tl.want))
	s.measure(t, label, scope, tl.counts())
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
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

func testPublishThenSubscribe(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	ms := msgs(topic, "m", 20, "a", "b", "c")
	publish(ctx, t, s.b, ms...)
	s.consumeAndMeasure(ctx, t, subscribe(ctx, t, s.b, topic, "g"), newTally(ms), "publish-then-subscribe", ScopeSubscription)
}

func testSubscribeFirst(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	ch := subscribe(ctx, t, s.b, topic, "g")
	ms := msgs(topic, "m", 20, "a", "b")
	for _, m := range ms {
		publish(ctx, t, s.b, m)
	}
	s.consumeAndMeasure(ctx, t, ch, newTally(ms), "subscribe-first", ScopeSubscription)
}

func testPerKeyOrder(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	all, batches := keyedBatches(topic, 4, 3, 40)
	ch := subscribe(ctx, t, s.b, topic, "g")
	pctx, stop := context.WithCancel(ctx) // a failed publish ends the wait
	defer stop()
	errs := publishConcurrently(ctx, stop, s.b, batches)
	tl := newTally(all)
	consumeErr := consumeUntil(pctx, ch, tl, len(all))
	s.measure(t, "per-key order", ScopeSubscription, tl.counts())
	for err := range errs {
		t.Fatalf("publish: %v", err)
	}
	if consumeErr != nil {
		t.Fatal(consumeErr)
	}
}

// publishConcurrently runs one publisher per element of batches, each
// publishing its batches in order; a failure calls stop. The returned
// channel yields the errors and closes when every publisher is done.
func publishConcurrently(ctx context.Context, stop func(), b bus.Publisher, batches [][][]*bus.Message) <-chan error {
	var wg sync.WaitGroup
	errs := make(chan error, len(batches))
	for p := range batches {
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
	go func() {
		wg.Wait()
		close(errs)
	}()
	return errs
}

func testConsumerGroups(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	ms := msgs(topic, "m", 15, "a", "b", "c")
	publish(ctx, t, s.b, ms...)
	for _, g := range []string{"g1", "g2"} {
		s.consumeAndMeasure(ctx, t, subscribe(ctx, t, s.b, topic, g), newTally(ms), "group "+g, ScopeSubscription)
	}
}

// testNackRequeue requeues m-0 twice, then acks it, and drops m-1 (same
// key). Contract (always): each requeue redelivers, a second settle fails.
// Measured: m-1 arriving while m-0 awaits its redelivery is a reordering
// (RequeueInPlace); anything but the marker after both are settled is a
// duplicate.
func testNackRequeue(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	ms := msgs(topic, "m", 2, "same-key")
	publish(ctx, t, s.b, ms...)
	ch := subscribe(ctx, t, s.b, topic, "g")

	c := Counts{Published: 2}
	requeues := 0
	var m0Acked, m1Dropped bool
	for step := 0; !m0Acked || !m1Dropped; step++ {
		if step > 20 {
			t.Fatalf("step %d: still not settled (m-0 acked %v, m-1 dropped %v)", step, m0Acked, m1Dropped)
		}
		d := recv(ctx, t, ch)
		if d == nil {
			c.Lost = btoi(!m0Acked) + btoi(!m1Dropped)
			s.measure(t, "nack-requeue", ScopeRequeue, c)
			t.Fatalf("step %d: no delivery (a requeued message must come back)", step)
		}
		c.Delivered++
		var err error
		switch id := d.Message().ID; {
		case id == "m-0" && m0Acked, id == "m-1" && m1Dropped:
			c.Duplicated++
			err = d.Ack(ctx)
		case id == "m-0" && requeues < 2:
			requeues++
			err = d.Nack(ctx, true)
		case id == "m-0":
			m0Acked = true
			err = d.Ack(ctx)
		case id == "m-1":
			if !m0Acked {
				c.Reordered++ // overtook the requeued m-0
			}
			m1Dropped = true
			err = d.Nack(ctx, false)
		default:
			c.Phantom++
			err = d.Ack(ctx)
		}
		if err != nil {
			t.Fatalf("step %d: settle %s: %v", step, d.Message().ID, err)
		}
		if err := d.Ack(ctx); !errors.Is(err, bus.ErrAlreadySettled) {
			t.Fatalf("step %d: second settle = %v, want ErrAlreadySettled", step, err)
		}
	}
	// Nothing further may arrive: m-0 was acked and m-1 dropped. Publish a
	// marker; whatever comes before it is a duplicate.
	extra, ok := untilMarker(ctx, t, s.b, topic, ch)
	c.Duplicated += extra
	c.Delivered += extra
	s.measure(t, "nack-requeue", ScopeRequeue, c)
	if !ok {
		t.Fatal("marker not delivered after ack and drop")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// untilMarker publishes a marker to topic and acks deliveries on ch until
// it arrives, returning how many others came first; ok is false when the
// marker never came.
func untilMarker(ctx context.Context, t *testing.T, b bus.Bus, topic string, ch <-chan bus.Delivery) (extra int, ok bool) {
	t.Helper()
	id := fmt.Sprintf("marker-%d", topicSeq.Add(1))
	publish(ctx, t, b, &bus.Message{ID: id, Topic: topic, Key: "marker", Headers: map[string]string{}})
	for {
		d := recv(ctx, t, ch)
		if d == nil {
			return extra, false
		}
		_ = d.Ack(ctx)
		if d.Message().ID == id {
			return extra, true
		}
		extra++
	}
}

func testContextCancel(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	publish(ctx, t, s.b, msgs(topic, "m", 3, "a")...)
	sctx, cancel := context.WithCancel(ctx)
	ch := subscribe(sctx, t, s.b, topic, "g")
	if d := recv(ctx, t, ch); d == nil {
		t.Fatal("no delivery before cancel")
	}
	cancel()
	waitClosed(ctx, t, ch, "ctx cancel")
}

// waitClosed drains ch until it closes, failing when ctx ends first.
func waitClosed(ctx context.Context, t *testing.T, ch <-chan bus.Delivery, after string) {
	t.Helper()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-ctx.Done():
			t.Fatalf("subscription channel did not close after %s", after)
		}
	}
}

func testTopicIsolation(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	ta, tb := Topic(t, "a"), Topic(t, "b")
	publish(ctx, t, s.b, msgs(ta, "a", 5, "k")...)
	publish(ctx, t, s.b, &bus.Message{ID: "b-marker", Topic: tb, Key: "k"})
	d := recv(ctx, t, subscribe(ctx, t, s.b, tb, "g"))
	c := Counts{Published: 1}
	switch {
	case d == nil:
		c.Lost = 1
	case d.Message().ID != "b-marker" || d.Message().Topic != tb:
		c.Delivered, c.Phantom, c.Lost = 1, 1, 1
		t.Logf("topic b delivered %s (topic %s), want b-marker", d.Message().ID, d.Message().Topic)
	default:
		c.Delivered = 1
		_ = d.Ack(ctx)
	}
	s.measure(t, "topic isolation", ScopeNone, c)
}

func testCloseIdempotent(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	b := s.b
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
	waitClosed(ctx, t, ch, "Close")
}
