package metrics_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/bus/metrics"
)

var errBoom = errors.New("boom")

// stepClock advances by step on every reading, so each handler run (two
// readings) takes exactly step.
type stepClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func newMetrics(t *testing.T, step time.Duration) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	clk := &stepClock{t: time.Unix(0, 0), step: step}
	m, err := metrics.New(reg, metrics.Now(clk.Now), metrics.Buckets([]float64{0.1, 0.5, 1}))
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// value returns the value of one counter or gauge series, or 0 if absent.
func value(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, s := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range s.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			if s.GetGauge() != nil {
				return s.GetGauge().GetValue()
			}
			return s.GetCounter().GetValue()
		}
	}
	return 0
}

// compare checks the exposition text of the named families (all when none
// are named) against want, exactly. It stands in for
// prometheus/testutil.GatherAndCompare, whose diff dependency
// (kylelemons/godebug) is not in go.sum.
func compare(t *testing.T, reg prometheus.Gatherer, want string, names ...string) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, mf := range mfs {
		if len(names) > 0 && !slices.Contains(names, mf.GetName()) {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&got, mf); err != nil {
			t.Fatal(err)
		}
	}
	if g, w := strings.TrimSpace(got.String()), strings.TrimSpace(want); g != w {
		t.Fatalf("metrics:\n%s\n\nwant:\n%s", g, w)
	}
}

// failingPub refuses every publish.
type failingPub struct{}

func (failingPub) Publish(context.Context, ...*bus.Message) error { return errBoom }
func (failingPub) Close() error                                   { return nil }

func TestMiddlewareCountsOutcomesAndLatency(t *testing.T) {
	m, reg := newMetrics(t, 250*time.Millisecond)
	var inFlight float64
	h := m.Middleware("billing")(func(_ context.Context, msg *bus.Message) error {
		inFlight = value(t, reg, "edkit_bus_in_flight", "topic", "orders", "group", "billing")
		if string(msg.Payload) == "bad" {
			return errBoom
		}
		return nil
	})
	ctx := context.Background()
	for _, p := range []string{"ok", "ok", "bad"} {
		err := h(ctx, &bus.Message{ID: p, Topic: "orders", Payload: []byte(p)})
		if (p == "bad") != errors.Is(err, errBoom) {
			t.Fatalf("%s: error %v not passed on", p, err)
		}
	}
	if inFlight != 1 {
		t.Fatalf("in_flight during the handler = %v, want 1", inFlight)
	}
	const want = `
# HELP edkit_bus_acked_total Deliveries whose handler chain succeeded, so they are acked.
# TYPE edkit_bus_acked_total counter
edkit_bus_acked_total{group="billing",topic="orders"} 2
# HELP edkit_bus_delivered_total Deliveries handed to a handler.
# TYPE edkit_bus_delivered_total counter
edkit_bus_delivered_total{group="billing",topic="orders"} 3
# HELP edkit_bus_handler_duration_seconds Time the handler chain took per delivery.
# TYPE edkit_bus_handler_duration_seconds histogram
edkit_bus_handler_duration_seconds_bucket{group="billing",topic="orders",le="0.1"} 0
edkit_bus_handler_duration_seconds_bucket{group="billing",topic="orders",le="0.5"} 3
edkit_bus_handler_duration_seconds_bucket{group="billing",topic="orders",le="1"} 3
edkit_bus_handler_duration_seconds_bucket{group="billing",topic="orders",le="+Inf"} 3
edkit_bus_handler_duration_seconds_sum{group="billing",topic="orders"} 0.75
edkit_bus_handler_duration_seconds_count{group="billing",topic="orders"} 3
# HELP edkit_bus_in_flight Deliveries being handled now.
# TYPE edkit_bus_in_flight gauge
edkit_bus_in_flight{group="billing",topic="orders"} 0
# HELP edkit_bus_nacked_total Deliveries whose handler chain failed, so they are nacked.
# TYPE edkit_bus_nacked_total counter
edkit_bus_nacked_total{group="billing",topic="orders"} 1
`
	compare(t, reg, want)
}

func TestInFlightDropsWhenHandlerPanics(t *testing.T) {
	m, reg := newMetrics(t, time.Millisecond)
	h := m.Middleware("g")(func(context.Context, *bus.Message) error { panic("handler bug") })
	func() {
		defer func() { _ = recover() }()
		_ = h(context.Background(), &bus.Message{ID: "1", Topic: "t"})
	}()
	if got := value(t, reg, "edkit_bus_in_flight", "topic", "t"); got != 0 {
		t.Fatalf("in_flight after a panic = %v, want 0", got)
	}
}

func TestPublisherCountsPublishesAndErrors(t *testing.T) {
	m, reg := newMetrics(t, time.Millisecond)
	ctx := context.Background()
	b := membus.New()
	t.Cleanup(func() { _ = b.Close() })
	if err := m.Publisher(b).Publish(ctx, &bus.Message{ID: "1", Topic: "a"}, &bus.Message{ID: "2", Topic: "b"},
		&bus.Message{ID: "3", Topic: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Publisher(failingPub{}).Publish(ctx, &bus.Message{ID: "4", Topic: "a"},
		&bus.Message{ID: "5", Topic: "a"}); !errors.Is(err, errBoom) {
		t.Fatalf("publish error not passed on: %v", err)
	}
	const want = `
# HELP edkit_bus_publish_errors_total Messages in publish calls that failed or whose outcome is unknown.
# TYPE edkit_bus_publish_errors_total counter
edkit_bus_publish_errors_total{topic="a"} 2
# HELP edkit_bus_published_total Messages the broker confirmed as published.
# TYPE edkit_bus_published_total counter
edkit_bus_published_total{topic="a"} 1
edkit_bus_published_total{topic="b"} 2
`
	compare(t, reg, want, "edkit_bus_published_total", "edkit_bus_publish_errors_total")
}

// Over a real (in-memory) broker with the usual chain: one clean message,
// one that a retry rescues, one poison message that is dead-lettered. Every
// counter must land exactly, and in_flight must be back to 0.
func TestEndToEndOverMembus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, reg := newMetrics(t, 100*time.Millisecond)
	b := membus.New()
	t.Cleanup(func() { _ = b.Close() })
	pub := m.Publisher(b)
	if err := pub.Publish(ctx,
		&bus.Message{ID: "clean", Topic: "orders", Key: "o-1"},
		&bus.Message{ID: "flaky", Topic: "orders", Key: "o-2"},
		&bus.Message{ID: "poison", Topic: "orders", Key: "o-3"},
	); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	tries := map[string]int{}
	h := bus.Chain(func(_ context.Context, msg *bus.Message) error {
		mu.Lock()
		defer mu.Unlock()
		tries[msg.ID]++
		switch {
		case msg.ID == "poison", msg.ID == "flaky" && tries[msg.ID] == 1:
			return errBoom
		}
		return nil
	},
		m.Middleware("billing"),
		bus.DeadLetter(pub, "orders.dlq", "billing", bus.OnDeadLetter(m.OnDeadLetter)),
		bus.Retry(2, nil, nil),
	)
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- bus.Consume(cctx, b, "orders", "billing", h) }()
	// Quiescent once all three are settled; poll with a deadline.
	for value(t, reg, "edkit_bus_acked_total", "topic", "orders")+
		value(t, reg, "edkit_bus_nacked_total", "topic", "orders") < 3 {
		select {
		case <-ctx.Done():
			t.Fatal("deliveries not settled in time")
		case <-time.After(5 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Consume: %v", err)
	}

	const want = `
# HELP edkit_bus_acked_total Deliveries whose handler chain succeeded, so they are acked.
# TYPE edkit_bus_acked_total counter
edkit_bus_acked_total{group="billing",topic="orders"} 3
# HELP edkit_bus_dead_lettered_total Messages published to a dead-letter topic, by original topic.
# TYPE edkit_bus_dead_lettered_total counter
edkit_bus_dead_lettered_total{group="billing",topic="orders"} 1
# HELP edkit_bus_delivered_total Deliveries handed to a handler.
# TYPE edkit_bus_delivered_total counter
edkit_bus_delivered_total{group="billing",topic="orders"} 3
# HELP edkit_bus_in_flight Deliveries being handled now.
# TYPE edkit_bus_in_flight gauge
edkit_bus_in_flight{group="billing",topic="orders"} 0
# HELP edkit_bus_published_total Messages the broker confirmed as published.
# TYPE edkit_bus_published_total counter
edkit_bus_published_total{topic="orders"} 3
edkit_bus_published_total{topic="orders.dlq"} 1
`
	compare(t, reg, want, "edkit_bus_acked_total", "edkit_bus_nacked_total", "edkit_bus_dead_lettered_total",
		"edkit_bus_delivered_total", "edkit_bus_in_flight", "edkit_bus_published_total",
		"edkit_bus_publish_errors_total")
	if tries["flaky"] != 2 || tries["poison"] != 2 || tries["clean"] != 1 {
		t.Fatalf("handler tries %v", tries)
	}
}

// A dead-letter publish that fails leaves the delivery nacked, and no dead
// letter is counted.
func TestFailedDeadLetterIsNackedNotCounted(t *testing.T) {
	m, reg := newMetrics(t, time.Millisecond)
	h := bus.Chain(func(context.Context, *bus.Message) error { return errBoom },
		m.Middleware("billing"),
		bus.DeadLetter(m.Publisher(failingPub{}), "orders.dlq", "billing", bus.OnDeadLetter(m.OnDeadLetter)),
	)
	if err := h(context.Background(), &bus.Message{ID: "1", Topic: "orders"}); !errors.Is(err, errBoom) {
		t.Fatalf("chain returned %v", err)
	}
	for name, want := range map[string]float64{
		"edkit_bus_nacked_total":         1,
		"edkit_bus_acked_total":          0,
		"edkit_bus_dead_lettered_total":  0,
		"edkit_bus_publish_errors_total": 1,
		"edkit_bus_in_flight":            0,
	} {
		if got := value(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestNewRefusesTakenNamesAndRollsBack(t *testing.T) {
	if _, err := metrics.New(nil); err == nil {
		t.Fatal("nil Registerer accepted")
	}
	reg := prometheus.NewRegistry()
	// Take a name New registers after several others.
	blocker := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edkit_bus_acked_total",
		Help: "Deliveries whose handler chain succeeded, so they are acked."}, []string{"topic", "group"})
	reg.MustRegister(blocker)
	_, err := metrics.New(reg)
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) {
		t.Fatalf("New = %v, want AlreadyRegisteredError", err)
	}
	// Those registered before the clash were unregistered again, so once
	// the name is free New succeeds instead of clashing on them.
	reg.Unregister(blocker)
	if _, err := metrics.New(reg); err != nil {
		t.Fatalf("partial registration left behind: %v", err)
	}
}
