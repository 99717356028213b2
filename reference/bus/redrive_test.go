package bus_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

// idle is generous: membus hands out what it has at once, Kafka within its
// fetch wait; a loaded machine must not end a peek early.
const idle = 1500 * time.Millisecond

// poisonShop consumes topic "orders" as group "billing" behind DeadLetter:
// the handler fails on "poison" until fix is called, and records every ID
// it processed with the message it saw.
type poisonShop struct {
	mu        sync.Mutex
	fixed     bool
	processed map[string]*bus.Message
	changed   chan struct{}
}

func newPoisonShop() *poisonShop {
	return &poisonShop{processed: map[string]*bus.Message{}, changed: make(chan struct{}, 1)}
}

func (s *poisonShop) handle(_ context.Context, m *bus.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.ID == "poison" && !s.fixed {
		return bus.Permanent(errors.New("cannot decode order"))
	}
	s.processed[m.ID] = m.Clone()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return nil
}

func (s *poisonShop) fix() { s.mu.Lock(); s.fixed = true; s.mu.Unlock() }

// waitProcessed waits until every id was processed.
func (s *poisonShop) waitProcessed(ctx context.Context, t *testing.T, ids ...string) map[string]*bus.Message {
	t.Helper()
	for {
		s.mu.Lock()
		all := true
		for _, id := range ids {
			if s.processed[id] == nil {
				all = false
			}
		}
		snapshot := make(map[string]*bus.Message, len(s.processed))
		for k, v := range s.processed {
			snapshot[k] = v
		}
		s.mu.Unlock()
		if all {
			return snapshot
		}
		select {
		case <-s.changed:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("not all of %v processed: %v", ids, snapshot)
		}
	}
}

// waitDLQ polls Peek until the DLQ holds n entries.
func waitDLQ(ctx context.Context, t *testing.T, sub bus.Subscriber, n int) []bus.DeadLetterEntry {
	t.Helper()
	for {
		es, err := bus.Peek(ctx, sub, "orders.dlq", "redrive", bus.Idle(idle))
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == n {
			return es
		}
		if ctx.Err() != nil {
			t.Fatalf("DLQ has %d entries, want %d", len(es), n)
		}
	}
}

// testPoisonRedrive dead-letters a poison message through bus.DeadLetter,
// peeks at it twice (peek removes nothing), fixes the handler, redrives it
// and checks the fixed handler processed it with its ID, key and headers.
func testPoisonRedrive(t *testing.T, b bus.Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shop := newPoisonShop()
	h := bus.Chain(shop.handle, bus.DeadLetter(b, "orders.dlq", "billing"))
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- bus.Consume(cctx, b, "orders", "billing", h) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Consume: %v", err)
		}
	}()

	msgs := []*bus.Message{
		{ID: "ok-1", Topic: "orders", Key: "c1", Payload: []byte("{}")},
		{ID: "poison", Topic: "orders", Key: "c2", Payload: []byte("{not json"),
			Headers: map[string]string{bus.HeaderType: "OrderPlaced"}},
		{ID: "ok-2", Topic: "orders", Key: "c3", Payload: []byte("{}")},
	}
	if err := b.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	shop.waitProcessed(ctx, t, "ok-1", "ok-2")
	for range 2 {
		es := waitDLQ(ctx, t, b, 1)
		e := es[0]
		if e.ID != "poison" || e.OriginalTopic != "orders" || e.Group != "billing" || e.Attempts != 1 ||
			e.Key != "c2" || e.PayloadSize != len("{not json") || e.Reason != "permanent: cannot decode order" {
			t.Fatalf("entry %+v", e)
		}
		if len(e.Headers) != 1 || e.Headers[bus.HeaderType] != "OrderPlaced" {
			t.Fatalf("entry headers %v, want only the original ones", e.Headers)
		}
	}

	shop.fix()
	rep, err := bus.Redrive(ctx, b, b, "orders.dlq", "redrive", bus.Idle(idle))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Redriven) != 1 || len(rep.Skipped)+len(rep.Failed) != 0 {
		t.Fatalf("report %+v", rep)
	}
	got := shop.waitProcessed(ctx, t, "poison")["poison"]
	if got.Key != "c2" || string(got.Payload) != "{not json" || got.Header(bus.HeaderType) != "OrderPlaced" ||
		got.Header(bus.HeaderRedriven) != "1" || got.Header(bus.HeaderDLQReason) != "" ||
		got.Header(bus.HeaderDLQOriginalTopic) != "" {
		t.Fatalf("redriven message %+v", got)
	}
	if es, err := bus.Peek(ctx, b, "orders.dlq", "redrive", bus.Idle(idle)); err != nil || len(es) != 0 {
		t.Fatalf("DLQ after redrive: %v, %v", es, err)
	}
}

func TestRedrivePoisonMessageMembus(t *testing.T) {
	t.Parallel()
	b := membus.New()
	defer func() { _ = b.Close() }()
	testPoisonRedrive(t, b)
}

func TestRedrivePoisonMessageKafka(t *testing.T) {
	t.Parallel()
	e, err := embedded.StartKafka(context.Background(), embedded.Partitions(2))
	if err != nil {
		t.Fatalf("embedded kafka cannot start: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	b, err := kafkabus.New(e.Component("kafka").Endpoint().Addrs, kafkabus.AutoCreateTopics(2))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	testPoisonRedrive(t, b)
}

// failingPub fails every publish, as a broker that is down would.
type failingPub struct{}

var errDown = errors.New("broker down")

func (failingPub) Publish(context.Context, ...*bus.Message) error { return errDown }
func (failingPub) Close() error                                   { return nil }

// deadLetter puts m on "orders.dlq" the way DeadLetter does for a handler
// that failed with reason.
func deadLetter(ctx context.Context, t *testing.T, b bus.Publisher, m *bus.Message, reason string) {
	t.Helper()
	fail := func(context.Context, *bus.Message) error { return errors.New(reason) }
	if err := bus.DeadLetter(b, "orders.dlq", "billing")(fail)(ctx, m); err != nil {
		t.Fatal(err)
	}
}

func ids(es []bus.DeadLetterEntry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.ID)
	}
	sort.Strings(out)
	return out
}

func TestRedriveFailedPublishKeepsEntry(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := membus.New()
	defer func() { _ = b.Close() }()
	deadLetter(ctx, t, b, &bus.Message{ID: "m1", Topic: "orders", Key: "k1", Payload: []byte("x")}, "boom")

	rep, err := bus.Redrive(ctx, b, failingPub{}, "orders.dlq", "redrive", bus.Idle(idle))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 1 || len(rep.Redriven) != 0 || rep.Failed[0].Entry.ID != "m1" ||
		!strings.Contains(rep.Failed[0].Err, errDown.Error()) {
		t.Fatalf("report %+v", rep)
	}
	if es, err := bus.Peek(ctx, b, "orders.dlq", "redrive", bus.Idle(idle)); err != nil || len(es) != 1 {
		t.Fatalf("DLQ after a failed redrive: %v, %v; want m1 still there", es, err)
	}
	rep, err = bus.Redrive(ctx, b, b, "orders.dlq", "redrive", bus.Idle(idle))
	if err != nil || len(rep.Redriven) != 1 {
		t.Fatalf("second redrive: %+v, %v", rep, err)
	}
}

func TestRedriveWithoutOriginalTopicFails(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := membus.New()
	defer func() { _ = b.Close() }()
	if err := b.Publish(ctx, &bus.Message{ID: "stray", Topic: "orders.dlq"}); err != nil {
		t.Fatal(err)
	}
	rep, err := bus.Redrive(ctx, b, b, "orders.dlq", "redrive", bus.Idle(idle))
	if err != nil || len(rep.Failed) != 1 {
		t.Fatalf("report %+v, %v; want one failure", rep, err)
	}
	// With an override it has somewhere to go.
	rep, err = bus.Redrive(ctx, b, b, "orders.dlq", "redrive", bus.Idle(idle), bus.RedriveTo("orders"))
	if err != nil || len(rep.Redriven) != 1 {
		t.Fatalf("report %+v, %v; want it redriven", rep, err)
	}
}

// drain reads topic as a fresh group until idle and returns the messages.
func drain(ctx context.Context, t *testing.T, sub bus.Subscriber, topic string) map[string]*bus.Message {
	t.Helper()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := sub.Subscribe(sctx, topic, "drain")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*bus.Message{}
	for {
		select {
		case d := <-ch:
			out[d.Message().ID] = d.Message()
			_ = d.Ack(ctx)
		case <-time.After(idle):
			return out
		}
	}
}

func TestRedriveFilters(t *testing.T) {
	t.Parallel()
	// Each entry has its own key and the bus many partitions, so an entry
	// held back by the filter does not hide another behind it (membus hands
	// out one unsettled delivery per partition).
	entries := []struct {
		id, topic, key, reason string
	}{
		{"a", "orders", "key-a", "decode: bad json"},
		{"b", "payments", "key-b", "gateway timeout"},
		{"c", "orders", "key-c", "stock timeout"},
	}
	tests := []struct {
		name      string
		opts      []bus.DLQOption
		redriven  []string
		toReplay  bool
		wantTopic map[string]string
	}{
		{"reason", []bus.DLQOption{bus.MatchReason("timeout")}, []string{"b", "c"}, false, nil},
		{"ids", []bus.DLQOption{bus.MatchIDs("a", "zzz")}, []string{"a"}, false, nil},
		{"topic", []bus.DLQOption{bus.MatchTopic("orders")}, []string{"a", "c"}, false, nil},
		{"topic and reason", []bus.DLQOption{bus.MatchTopic("orders"), bus.MatchReason("timeout")}, []string{"c"}, false, nil},
		{"limit", []bus.DLQOption{bus.MatchReason("timeout"), bus.Limit(1)}, nil, false, nil},
		{"override", []bus.DLQOption{bus.MatchIDs("b"), bus.RedriveTo("replay")}, []string{"b"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			b := membus.New(membus.Partitions(64))
			defer func() { _ = b.Close() }()
			for _, e := range entries {
				deadLetter(ctx, t, b, &bus.Message{ID: e.id, Topic: e.topic, Key: e.key, Payload: []byte(e.id)}, e.reason)
			}
			rep, err := bus.Redrive(ctx, b, b, "orders.dlq", "redrive", append(tt.opts, bus.Idle(idle))...)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(rep.Redriven)
			if tt.name == "limit" {
				if len(got) != 1 || (got[0] != "b" && got[0] != "c") {
					t.Fatalf("redriven %v, want one of b, c", got)
				}
				tt.redriven = got
			} else if !slices.Equal(got, tt.redriven) {
				t.Fatalf("redriven %v, want %v (report %+v)", got, tt.redriven, rep)
			}
			left, err := bus.Peek(ctx, b, "orders.dlq", "redrive", bus.Idle(idle))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, e := range entries {
				if !slices.Contains(tt.redriven, e.id) {
					want = append(want, e.id)
				}
			}
			if !slices.Equal(ids(left), want) {
				t.Fatalf("left in the DLQ %v, want %v", ids(left), want)
			}
			if tt.name != "limit" && !slices.Equal(ids(rep.Skipped), want) {
				t.Fatalf("skipped %v, want %v", ids(rep.Skipped), want)
			}
			drained := map[string]map[string]*bus.Message{}
			for _, e := range entries {
				if !slices.Contains(tt.redriven, e.id) {
					continue
				}
				topic := e.topic
				if tt.toReplay {
					topic = "replay"
				}
				if drained[topic] == nil {
					drained[topic] = drain(ctx, t, b, topic)
				}
				if m := drained[topic][e.id]; m == nil || m.Key != e.key || m.Header(bus.HeaderRedriven) != "1" {
					t.Fatalf("%s not redriven to %s: %+v", e.id, topic, m)
				}
			}
		})
	}
}

func TestRedriveDryRunMovesNothing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := membus.New(membus.Partitions(64))
	defer func() { _ = b.Close() }()
	deadLetter(ctx, t, b, &bus.Message{ID: "a", Topic: "orders", Key: "key-a"}, "timeout")
	deadLetter(ctx, t, b, &bus.Message{ID: "b", Topic: "orders", Key: "key-b"}, "decode")
	rep, err := bus.Redrive(ctx, b, b, "orders.dlq", "redrive", bus.Idle(idle), bus.DryRun(), bus.MatchReason("timeout"))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.DryRun || !slices.Equal(ids(rep.Redriven), []string{"a"}) || !slices.Equal(ids(rep.Skipped), []string{"b"}) {
		t.Fatalf("dry run report %+v", rep)
	}
	if got := drain(ctx, t, b, "orders"); len(got) != 0 {
		t.Fatalf("dry run published %v", got)
	}
	if left, err := bus.Peek(ctx, b, "orders.dlq", "redrive", bus.Idle(idle)); err != nil || len(left) != 2 {
		t.Fatalf("DLQ after a dry run: %v, %v", left, err)
	}
}

// instantClock ends every wait at once: the idle timeout must come from it.
type instantClock struct{}

func (instantClock) Now() time.Time { return time.Time{} }
func (instantClock) Sleep(ctx context.Context, _ time.Duration) error {
	return ctx.Err()
}

func TestPeekIdleRunsOnTheInjectedClock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := membus.New()
	defer func() { _ = b.Close() }()
	// An hour of idle on the wall clock would time the test out; on the
	// injected clock it passes at once.
	es, err := bus.Peek(ctx, b, "empty.dlq", "redrive", bus.Idle(time.Hour), bus.WithClock(instantClock{}))
	if err != nil || len(es) != 0 {
		t.Fatalf("peek of an empty topic: %v, %v", es, err)
	}
}
