package bustest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edkit-dev/edkit/reference/bus"
)

// errPoison is the failure of the handler that never succeeds.
var errPoison = errors.New("bustest: poison pill cannot be decoded")

// errFlaky is the first failure of a handler that succeeds on redelivery.
var errFlaky = errors.New("bustest: transient failure")

// testDLQAfterNAttempts runs bus.Consume with Retry(3) inside DeadLetter:
// the poison message must reach the DLQ topic once, with its ID, the
// reason, 3 attempts and its original headers, and every other message
// must be handled as if it were not there.
func testDLQAfterNAttempts(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	dlq := topic + ".dlq"
	dlqCh := subscribe(ctx, t, s.b, dlq, "g1") // before the first DLQ publish
	ms := msgs(topic, "m", 9, "a", "b", "c")
	poison := &bus.Message{ID: "poison", Topic: topic, Key: "a", Payload: []byte("\x00not json"),
		Headers: map[string]string{bus.HeaderType: "Poison", "x-origin": "bustest"}}
	publish(ctx, t, s.b, append(append(append([]*bus.Message{}, ms[:4]...), poison), ms[4:]...)...)

	good := newTally(ms)
	var mu sync.Mutex
	attempts := map[string]int{}
	progress := make(chan struct{}, 1)
	h := func(_ context.Context, m *bus.Message) error {
		mu.Lock()
		attempts[m.ID]++
		mu.Unlock()
		if m.ID == poison.ID {
			return errPoison
		}
		if good.add(m) {
			good.done(m)
		}
		return nil
	}
	// Count a message as handled once Consume's ack of it returned: ending
	// Consume earlier would revoke that ack.
	var poisonAcked atomic.Bool
	sub := ackObserver{Subscriber: s.b, onAck: func(m *bus.Message) {
		if m.ID == poison.ID {
			poisonAcked.Store(true)
		}
		good.ack(m.ID)
		select {
		case progress <- struct{}{}:
		default:
		}
	}}
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	settleErrs := make(chan error, 100)
	consumed := make(chan error, 1)
	go func() {
		consumed <- bus.Consume(cctx, sub, topic, "g",
			bus.Chain(h, bus.DeadLetter(s.b, dlq, "g"), bus.Retry(3, nil, nil)),
			bus.OnSettleError(func(_ *bus.Message, err error) {
				select {
				case settleErrs <- err:
				default:
				}
			}))
	}()

	dl := Counts{Published: 1, Lost: 1}
	var got *bus.Message
	for got == nil {
		d := recv(ctx, t, dlqCh)
		if d == nil {
			break
		}
		dl.Delivered++
		if d.Message().ID != poison.ID {
			dl.Phantom++
		} else {
			got, dl.Lost = d.Message().Clone(), 0
		}
		_ = d.Ack(ctx)
	}
	waitErr := waitAcked(ctx, good, len(ms), progress)
	for waitErr == nil && got != nil && !poisonAcked.Load() {
		select {
		case <-progress:
		case <-ctx.Done():
			waitErr = errors.New("the poison message's delivery was never acked after dead-lettering")
		}
	}
	stop()
	if err := <-consumed; err != nil {
		t.Errorf("Consume = %v, want nil after cancel", err)
	}
	if got != nil { // only the marker may follow the DLQ copy
		extra, _ := untilMarker(ctx, t, s.b, dlq, dlqCh)
		dl.Delivered += extra
		dl.Duplicated += extra
	}
	s.measure(t, "others unaffected", ScopeSubscription, good.counts())
	s.measure(t, "poison dead-lettered", ScopeNone, dl)
	close(settleErrs)
	for err := range settleErrs {
		t.Errorf("settle: %v", err)
	}
	if waitErr != nil {
		t.Fatal(waitErr)
	}
	if got == nil {
		t.Fatal("poison message never reached the DLQ topic")
	}
	mu.Lock()
	if n := attempts[poison.ID]; n != 3 {
		t.Errorf("handler ran %d times on the poison message, want 3 (Retry(3), no redelivery)", n)
	}
	mu.Unlock()
	want := map[string]string{
		bus.HeaderType: "Poison", "x-origin": "bustest",
		bus.HeaderDLQAttempts: "3", bus.HeaderDLQOriginalTopic: topic, bus.HeaderDLQGroup: "g",
	}
	for k, v := range want {
		if got.Header(k) != v {
			t.Errorf("DLQ copy header %s = %q, want %q", k, got.Header(k), v)
		}
	}
	if r := got.Header(bus.HeaderDLQReason); !strings.Contains(r, errPoison.Error()) {
		t.Errorf("DLQ reason = %q, want it to contain %q", r, errPoison)
	}
	if got.Topic != dlq || got.Key != poison.Key || string(got.Payload) != string(poison.Payload) {
		t.Errorf("DLQ copy = topic %s key %s payload %q, want %s %s %q", got.Topic, got.Key, got.Payload, dlq, poison.Key, poison.Payload)
	}
}

// testDedupUnderRedelivery puts bus.Dedup over a handler while the broker
// redelivers: each message is nacked with requeue once after its effect
// (an ack lost in a crash), and every third one fails once before it. The
// effect must run exactly once per ID; Duplicated counts extra effects.
func testDedupUnderRedelivery(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "t")
	// 12 messages fit in every backend's window of unsettled deliveries
	// (AMQP prefetch 16); RequeueStorm is the case with a backlog beyond it.
	ms := msgs(topic, "m", 12, "a", "b", "c", "d")
	flaky := map[string]bool{}
	for i, m := range ms {
		flaky[m.ID] = i%3 == 0
	}
	publish(ctx, t, s.b, ms...)
	ch := subscribe(ctx, t, s.b, topic, "g")

	tl := newTally(ms) // order and loss of effects
	effects := map[string]int{}
	skipped := 0
	effect := func(_ context.Context, m *bus.Message) error {
		if flaky[m.ID] {
			flaky[m.ID] = false
			return errFlaky
		}
		effects[m.ID]++
		tl.done(m)
		return nil
	}
	h := bus.Dedup(bus.NewMemoryInbox(), "g", bus.OnDuplicate(func(context.Context, *bus.Message) { skipped++ }))(effect)

	c := Counts{Published: len(ms)}
	for steps := 0; tl.distinct() < len(ms) && steps < 10*len(ms); steps++ {
		d := recv(ctx, t, ch)
		if d == nil {
			break
		}
		c.Delivered++
		m := d.Message()
		if !tl.want[m.ID] {
			c.Phantom++
			_ = d.Ack(ctx)
			continue
		}
		before := effects[m.ID]
		var err error
		switch herr := h(ctx, m); {
		case herr != nil, effects[m.ID] > before && before == 0:
			err = d.Nack(ctx, true) // failed, or the effect ran and its ack is "lost"
		default:
			if err = d.Ack(ctx); err == nil {
				tl.ack(m.ID)
			}
		}
		if err != nil {
			t.Fatalf("settle %s: %v", m.ID, err)
		}
	}
	c.Reordered = tl.counts().Reordered
	for _, m := range ms {
		switch n := effects[m.ID]; {
		case n == 0:
			c.Lost++ // its effect never ran, acked or not
		case n > 1:
			c.Duplicated += n - 1
		}
	}
	s.measure(t, "effects under redelivery", ScopeRequeue, c)
	if n := tl.distinct(); n < len(ms) {
		t.Errorf("%d of %d messages acked before the wait ended", n, len(ms))
	}
	if skipped < len(ms)-c.Lost {
		t.Errorf("Dedup skipped %d redeliveries, want at least %d (one per acked message)", skipped, len(ms)-c.Lost)
	}
}

// ackObserver is a Subscriber whose deliveries report each successful Ack
// to onAck, so a case can tell when bus.Consume has really settled.
type ackObserver struct {
	bus.Subscriber
	onAck func(m *bus.Message)
}

func (o ackObserver) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	in, err := o.Subscriber.Subscribe(ctx, topic, group)
	if err != nil {
		return nil, err
	}
	out := make(chan bus.Delivery)
	go func() {
		defer close(out)
		for d := range in { // Consume reads until the channel closes
			out <- observedDelivery{Delivery: d, onAck: o.onAck}
		}
	}()
	return out, nil
}

type observedDelivery struct {
	bus.Delivery
	onAck func(m *bus.Message)
}

func (d observedDelivery) Ack(ctx context.Context) error {
	err := d.Delivery.Ack(ctx)
	if err == nil {
		d.onAck(d.Message())
	}
	return err
}
