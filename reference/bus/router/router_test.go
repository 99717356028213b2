package router_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/bus/router"
)

// log collects what handlers saw, safely across consumers.
type log struct {
	mu  sync.Mutex
	got []string
}

func (l *log) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, s)
}

func (l *log) sorted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.got)
	slices.Sort(out)
	return out
}

// tag is middleware that logs its name before calling next, so tests can
// see the order middleware runs in.
func tag(l *log, name string) bus.Middleware {
	return func(next bus.Handler) bus.Handler {
		return func(ctx context.Context, m *bus.Message) error {
			l.add(m.ID + ":" + name)
			return next(ctx, m)
		}
	}
}

// runRouter starts r and returns a function that stops it and returns Run's
// result.
func runRouter(t *testing.T, r *router.Router) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			t.Fatal("Run did not return after its context ended")
			return nil
		}
	}
}

// settle waits until group has settled everything on topics.
func settle(t *testing.T, b *membus.Bus, group string, topics ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for _, topic := range topics {
		for {
			// A group that has not subscribed yet is missing from Lag.
			if lag, ok := b.Lag(topic)[group]; ok && lag == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("topic %s: lag %v for %s after a minute", topic, b.Lag(topic), group)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestRouterDispatchesByTopicWithMiddleware(t *testing.T) {
	b := membus.New()
	t.Cleanup(func() { _ = b.Close() })
	var l log
	r := router.New(b, "billing", router.WithMiddleware(tag(&l, "outer")), router.WithConsumeOptions(bus.Concurrency(2)))
	if err := r.Use(tag(&l, "inner")); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"orders", "payments", "refunds"} {
		h := func(_ context.Context, m *bus.Message) error {
			l.add(m.ID + ":" + topic + "-handler")
			return nil
		}
		if err := r.Handle(topic, h, tag(&l, topic+"-mw")); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Topics(); !slices.Equal(got, []string{"orders", "payments", "refunds"}) {
		t.Fatalf("topics %v", got)
	}
	stop := runRouter(t, r)
	for i, topic := range []string{"orders", "payments", "refunds", "orders"} {
		if err := b.Publish(t.Context(), &bus.Message{ID: fmt.Sprintf("%d", i), Topic: topic, Key: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	// Not routed: nobody in the group consumes it.
	if err := b.Publish(t.Context(), &bus.Message{ID: "x", Topic: "audit", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	settle(t, b, "billing", "orders", "payments", "refunds")
	if err := stop(); err != nil {
		t.Fatalf("Run after its context ended: %v", err)
	}
	want := []string{}
	for i, topic := range []string{"orders", "payments", "refunds", "orders"} {
		id := fmt.Sprintf("%d", i)
		want = append(want, id+":outer", id+":inner", id+":"+topic+"-mw", id+":"+topic+"-handler")
	}
	slices.Sort(want)
	if got := l.sorted(); !slices.Equal(got, want) {
		t.Fatalf("saw\n%v\nwant\n%v", got, want)
	}
	// Each message saw its middleware in order: outer, inner, route, handler.
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range 4 {
		var seq []string
		for _, s := range l.got {
			if s[0] == byte('0'+i) {
				seq = append(seq, s)
			}
		}
		if len(seq) != 4 || seq[0] != fmt.Sprintf("%d:outer", i) || seq[1] != fmt.Sprintf("%d:inner", i) {
			t.Fatalf("message %d ran %v", i, seq)
		}
	}
}

func TestRouterRegistrationErrors(t *testing.T) {
	b := membus.New()
	t.Cleanup(func() { _ = b.Close() })
	ok := func(context.Context, *bus.Message) error { return nil }
	r := router.New(b, "g")
	if err := r.Run(t.Context()); !errors.Is(err, router.ErrNoRoutes) {
		t.Fatalf("Run without routes: %v", err)
	}
	if err := r.Handle("", ok); err == nil {
		t.Fatal("empty topic accepted")
	}
	if err := r.Handle("t", nil); err == nil {
		t.Fatal("nil handler accepted")
	}
	if err := r.Handle("t", ok); err != nil {
		t.Fatal(err)
	}
	if err := r.Handle("t", ok); !errors.Is(err, router.ErrDuplicateRoute) {
		t.Fatalf("second handler for t: %v", err)
	}
	stop := runRouter(t, r)
	// Run has begun once the router refuses routes; poll, never sleep blind.
	deadline := time.Now().Add(time.Minute)
	var err error
	for err = r.Handle("u", ok); err == nil; err = r.Handle("v"+fmt.Sprint(time.Now().UnixNano()), ok) {
		if time.Now().After(deadline) {
			t.Fatal("router still accepts routes a minute after Run")
		}
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, router.ErrStarted) {
		t.Fatalf("route after Run: %v", err)
	}
	if err := r.Use(tag(&log{}, "late")); !errors.Is(err, router.ErrStarted) {
		t.Fatalf("middleware after Run: %v", err)
	}
	if err := r.Run(t.Context()); !errors.Is(err, router.ErrStarted) {
		t.Fatalf("second Run: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// failing subscribes one topic fine and refuses another.
type failing struct {
	bus.Subscriber
	bad string
}

var errRefused = errors.New("refused")

func (f failing) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	if topic == f.bad {
		return nil, errRefused
	}
	return f.Subscriber.Subscribe(ctx, topic, group)
}

func TestRouterRunReturnsFirstConsumeError(t *testing.T) {
	b := membus.New()
	t.Cleanup(func() { _ = b.Close() })
	ok := func(context.Context, *bus.Message) error { return nil }

	r := router.New(failing{b, "payments"}, "g")
	for _, topic := range []string{"orders", "payments"} {
		if err := r.Handle(topic, ok); err != nil {
			t.Fatal(err)
		}
	}
	ctx := bustest.Context(t, time.Minute)
	if err := r.Run(ctx); !errors.Is(err, errRefused) || ctx.Err() != nil {
		t.Fatalf("Run = %v (ctx %v), want the subscribe error before the deadline", err, ctx.Err())
	}

	// A subscription that ends (the bus closes) stops the router too.
	r2 := router.New(b, "g2")
	for _, topic := range []string{"orders", "payments"} {
		if err := r2.Handle(topic, ok); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- r2.Run(ctx) }()
	_ = b.Close()
	select {
	case err := <-done:
		if !errors.Is(err, bus.ErrSubscriptionEnded) && !errors.Is(err, bus.ErrClosed) {
			t.Fatalf("Run after the bus closed = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run kept going after the bus closed")
	}
}

// TestNoRouteDeadLetters is the end-to-end content-routing case: a message
// whose kind has no route reaches the DLQ through bus.DeadLetter, with a
// reason naming the value; routed kinds reach their handlers.
func TestNoRouteDeadLetters(t *testing.T) {
	b := membus.New()
	t.Cleanup(func() { _ = b.Close() })
	var l log
	byKind := router.ByField("order.kind")
	for _, kind := range []string{"new", "cancel"} {
		if err := byKind.Route(kind, func(_ context.Context, m *bus.Message) error { l.add(m.ID + ":" + kind); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	byHeader := router.ByHeader(bus.HeaderType)
	if err := byHeader.Route("PaymentTaken", func(_ context.Context, m *bus.Message) error { l.add(m.ID + ":paid"); return nil }); err != nil {
		t.Fatal(err)
	}
	r := router.New(b, "shop", router.WithMiddleware(bus.DeadLetter(b, "shop.dlq", "shop"), bus.Retry(3, nil, nil)))
	if err := r.Handle("orders", byKind.Handle); err != nil {
		t.Fatal(err)
	}
	if err := r.Handle("payments", byHeader.Handle); err != nil {
		t.Fatal(err)
	}
	stop := runRouter(t, r)
	msgs := []*bus.Message{
		{ID: "o1", Topic: "orders", Key: "a", Payload: []byte(`{"order":{"kind":"new"}}`)},
		{ID: "o2", Topic: "orders", Key: "a", Payload: []byte(`{"order":{"kind":"gift"}}`)},
		{ID: "o3", Topic: "orders", Key: "a", Payload: []byte(`not json`)},
		{ID: "o4", Topic: "orders", Key: "a", Payload: []byte(`{"order":{"kind":"cancel"}}`)},
		{ID: "p1", Topic: "payments", Key: "a", Headers: map[string]string{bus.HeaderType: "PaymentTaken"}},
		{ID: "p2", Topic: "payments", Key: "a", Headers: map[string]string{bus.HeaderType: "PaymentRefunded"}},
	}
	if err := b.Publish(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	settle(t, b, "shop", "orders", "payments")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := l.sorted(), []string{"o1:new", "o4:cancel", "p1:paid"}; !slices.Equal(got, want) {
		t.Fatalf("handled %v, want %v", got, want)
	}
	ctx := bustest.Context(t, time.Minute)
	dlq, err := b.Subscribe(ctx, "shop.dlq", "audit")
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for range 3 {
		d := bustest.Next(ctx, t, dlq)
		m := d.Message()
		reasons[m.ID] = m.Header(bus.HeaderDLQReason)
		if m.Header(bus.HeaderDLQAttempts) != "1" {
			t.Errorf("%s dead-lettered after %s attempts; a permanent error should not be retried", m.ID, m.Header(bus.HeaderDLQAttempts))
		}
		_ = d.Ack(ctx)
	}
	want := map[string]string{
		"o2": `permanent: router: no route for field "order.kind" = "gift"`,
		"o3": `permanent: field "order.kind" of message o3: router: payload is not JSON`,
		"p2": `permanent: router: no route for header "edkit-type" = "PaymentRefunded"`,
	}
	for id, w := range want {
		if reasons[id] != w {
			t.Errorf("%s dead-lettered with %q, want %q", id, reasons[id], w)
		}
	}
}
