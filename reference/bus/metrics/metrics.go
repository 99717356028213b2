package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Namespace prefixes every metric name.
const Namespace = "edkit_bus"

// Option configures New.
type Option func(*config)

type config struct {
	now     func() time.Time
	buckets []float64
}

// Now sets the clock handler latency is measured on (default time.Now).
func Now(fn func() time.Time) Option {
	return func(c *config) { c.now = fn }
}

// Buckets sets the handler_duration_seconds buckets (default
// prometheus.DefBuckets, 5ms to 10s).
func Buckets(b []float64) Option {
	return func(c *config) { c.buckets = b }
}

// Metrics holds the bus's collectors. Its methods wrap publishers and
// handlers; one Metrics serves any number of them.
type Metrics struct {
	now func() time.Time

	published     *prometheus.CounterVec
	publishErrors *prometheus.CounterVec
	delivered     *prometheus.CounterVec
	acked         *prometheus.CounterVec
	nacked        *prometheus.CounterVec
	deadLettered  *prometheus.CounterVec
	inFlight      *prometheus.GaugeVec
	duration      *prometheus.HistogramVec
}

// New creates the collectors and registers them on reg. If any fails to
// register (a name already taken), those registered are unregistered again
// and the error is returned.
func New(reg prometheus.Registerer, opts ...Option) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: nil Registerer")
	}
	cfg := config{now: time.Now, buckets: prometheus.DefBuckets}
	for _, o := range opts {
		o(&cfg)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		now: cfg.now,
		published: counter("published_total",
			"Messages the broker confirmed as published.", "topic"),
		publishErrors: counter("publish_errors_total",
			"Messages in publish calls that failed or whose outcome is unknown.", "topic"),
		delivered: counter("delivered_total",
			"Deliveries handed to a handler.", "topic", "group"),
		acked: counter("acked_total",
			"Deliveries whose handler chain succeeded, so they are acked.", "topic", "group"),
		nacked: counter("nacked_total",
			"Deliveries whose handler chain failed, so they are nacked.", "topic", "group"),
		deadLettered: counter("dead_lettered_total",
			"Messages published to a dead-letter topic, by original topic.", "topic", "group"),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "in_flight",
			Help: "Deliveries being handled now."}, []string{"topic", "group"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
			Name: "handler_duration_seconds", Help: "Time the handler chain took per delivery.",
			Buckets: cfg.buckets}, []string{"topic", "group"}),
	}
	cs := []prometheus.Collector{m.published, m.publishErrors, m.delivered, m.acked, m.nacked,
		m.deadLettered, m.inFlight, m.duration}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

// Publisher returns a publisher that counts, per topic, the messages pub
// confirmed (published_total) and those in calls that failed
// (publish_errors_total; a failed batch may be partly published, so every
// message in it counts as an error). Close closes pub.
func (m *Metrics) Publisher(pub bus.Publisher) bus.Publisher {
	return &publisher{next: pub, m: m}
}

type publisher struct {
	next bus.Publisher
	m    *Metrics
}

var _ bus.Publisher = (*publisher)(nil)

func (p *publisher) Publish(ctx context.Context, msgs ...*bus.Message) error {
	err := p.next.Publish(ctx, msgs...)
	c := p.m.published
	if err != nil {
		c = p.m.publishErrors
	}
	for _, msg := range msgs {
		if msg != nil {
			c.WithLabelValues(msg.Topic).Inc()
		}
	}
	return err
}

func (p *publisher) Close() error { return p.next.Close() }

// Middleware returns middleware that counts group's deliveries per topic:
// delivered_total on entry, in_flight while the handler runs,
// handler_duration_seconds, then acked_total for a nil error or
// nacked_total for an error. Put it outermost in the chain so the outcome
// is the one bus.Consume settles with (a message DeadLetter parks counts as
// acked, as the broker sees it).
func (m *Metrics) Middleware(group string) bus.Middleware {
	return func(next bus.Handler) bus.Handler {
		return func(ctx context.Context, msg *bus.Message) error {
			m.delivered.WithLabelValues(msg.Topic, group).Inc()
			inFlight := m.inFlight.WithLabelValues(msg.Topic, group)
			inFlight.Inc()
			start := m.now()
			// Deferred so a panicking handler still leaves in_flight right.
			defer inFlight.Dec()
			err := next(ctx, msg)
			m.duration.WithLabelValues(msg.Topic, group).Observe(m.now().Sub(start).Seconds())
			if err != nil {
				m.nacked.WithLabelValues(msg.Topic, group).Inc()
			} else {
				m.acked.WithLabelValues(msg.Topic, group).Inc()
			}
			return err
		}
	}
}

// OnDeadLetter counts a dead letter under its original topic and group, as
// DeadLetter records them in the copy's headers. Pass it to bus.DeadLetter
// as bus.OnDeadLetter(m.OnDeadLetter).
func (m *Metrics) OnDeadLetter(_ context.Context, dl *bus.Message, _ string, _ int) {
	topic := dl.Header(bus.HeaderDLQOriginalTopic)
	if topic == "" {
		topic = dl.Topic
	}
	m.deadLettered.WithLabelValues(topic, dl.Header(bus.HeaderDLQGroup)).Inc()
}
