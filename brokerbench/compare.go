package brokerbench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/reference/bus"
)

// Option configures Compare.
type Option func(*options)

type options struct {
	target        Target
	drainTimeout  time.Duration
	warmupTimeout time.Duration
	wrap          func(bus.Bus) bus.Bus
}

// DrainTimeout bounds how long, after the producers stop, the consumers
// may go without receiving anything before the run gives up on the rest
// (default 30 s) and reports an *IncompleteError. A slow drain that keeps
// progressing is waited for: it is the consumers' throughput.
func DrainTimeout(d time.Duration) Option { return func(o *options) { o.drainTimeout = d } }

// WarmupTimeout bounds the warm-up: until every consumer (at most one per
// Kafka partition) received a message (default 60 s: a RabbitMQ quorum
// queue or a Kafka group may take seconds to settle).
func WarmupTimeout(d time.Duration) Option { return func(o *options) { o.warmupTimeout = d } }

// WrapEdkit wraps every bus the edkit client opens, producer and consumer
// alike: to measure what a middleware (signing, tracing, metrics) costs
// against the bare client, or to slow the edkit client on purpose.
func WrapEdkit(f func(bus.Bus) bus.Bus) Option { return func(o *options) { o.wrap = f } }

// Result is one Compare: both clients' figures on the same broker and
// workload, and edkit's over the bare client's.
type Result struct {
	Target      Target
	Workload    Workload
	Bare, Edkit Stats
	Ratio       Ratio
}

// Compare runs w with the bare client library and then with edkit's bus
// backend on the same broker, each on its own fresh topic (stream, queue)
// with the same layout, and returns both clients' figures and their
// ratio. An *IncompleteError (a client's consumers did not receive
// exactly what was published) comes with the full Result; any other
// error means a client could not run.
func Compare(ctx context.Context, t Target, w Workload, opts ...Option) (Result, error) {
	if err := w.Validate(); err != nil {
		return Result{}, err
	}
	o := &options{target: t, drainTimeout: 30 * time.Second, warmupTimeout: 60 * time.Second}
	for _, opt := range opts {
		opt(o)
	}
	bare, edkit, err := drivers(t, w, o)
	if err != nil {
		return Result{}, err
	}
	res := Result{Target: t, Workload: w}
	var incomplete []error
	for _, c := range []struct {
		client Client
		d      driver
		into   *Stats
	}{{Bare, bare, &res.Bare}, {Edkit, edkit, &res.Edkit}} {
		st, err := runClient(ctx, c.client, c.d, w, o)
		*c.into = st
		var ie *IncompleteError
		if err != nil && !errors.As(err, &ie) {
			return res, err
		}
		incomplete = append(incomplete, err)
	}
	res.Ratio = ratioOf(w.Mode, res.Bare, res.Edkit)
	return res, errors.Join(incomplete...)
}

// drivers makes both clients' drivers for t's broker.
func drivers(t Target, w Workload, o *options) (bare, edkit driver, err error) {
	ep := t.Endpoint
	need := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("%w: %s needs %s in its endpoint", ErrUnknownBroker, t.Broker, what)
		}
		return nil
	}
	switch t.Broker {
	case Kafka:
		err = need(len(ep.Addrs) > 0, "bootstrap addresses")
		bare, edkit = &kafkaBare{addrs: ep.Addrs, names: freshNames(Bare), w: w}, kafkaEdkit(ep.Addrs, freshNames(Edkit), w, o.wrap)
	case NATS:
		err = need(ep.URL != "", "a nats:// URL")
		bare, edkit = &natsBare{url: ep.URL, names: freshNames(Bare), w: w}, natsEdkit(ep.URL, freshNames(Edkit), o.wrap)
	case Redis:
		err = need(len(ep.Addrs) > 0, "an address")
		bare, edkit = &redisBare{addr: firstAddr(ep), names: freshNames(Bare), w: w}, redisEdkit(firstAddr(ep), freshNames(Edkit), o.wrap)
	case RabbitMQ:
		err = need(ep.URL != "", "an amqp:// URL")
		bare, edkit = &amqpBare{url: ep.URL, names: freshNames(Bare), w: w}, amqpEdkit(ep.URL, freshNames(Edkit), o.wrap)
	default:
		_, err = ParseBroker(string(t.Broker))
	}
	return bare, edkit, err
}

func firstAddr(ep env.Endpoint) string {
	if len(ep.Addrs) == 0 {
		return ""
	}
	return ep.Addrs[0]
}
