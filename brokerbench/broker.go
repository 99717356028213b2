package brokerbench

import (
	"context"
	"fmt"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/harness/env/process"
)

// Broker names a broker brokerbench has both clients for.
type Broker string

// The brokers.
const (
	Kafka    Broker = "kafka"
	NATS     Broker = "nats"
	Redis    Broker = "redis"
	RabbitMQ Broker = "rabbitmq"
)

// Brokers lists every broker, in a stable order.
func Brokers() []Broker { return []Broker{Kafka, NATS, Redis, RabbitMQ} }

// ParseBroker reads a broker name.
func ParseBroker(s string) (Broker, error) {
	for _, b := range Brokers() {
		if string(b) == s {
			return b, nil
		}
	}
	return "", fmt.Errorf("%w: %q (want kafka, nats, redis or rabbitmq)", ErrUnknownBroker, s)
}

// kind is the broker's harness/env kind.
func (b Broker) kind() env.Kind {
	switch b {
	case Kafka:
		return env.KindKafka
	case NATS:
		return env.KindNATS
	case Redis:
		return env.KindRedis
	}
	return env.KindRabbitMQ
}

// partitioned reports whether the broker spreads a topic over
// Workload.Partitions, so that a group has at most that many busy members.
func (b Broker) partitioned() bool { return b == Kafka }

// Target is a broker to benchmark: which one, and where.
type Target struct {
	Broker   Broker
	Endpoint env.Endpoint
}

// StartBroker starts a broker of kind b for a benchmark through
// harness/env: Kafka in-process (kfake, the embedded provider), the others
// as local server processes on free loopback ports (the process provider).
// Close the environment when done.
func StartBroker(ctx context.Context, b Broker) (*env.Environment, Target, error) {
	if _, err := ParseBroker(string(b)); err != nil {
		return nil, Target{}, err
	}
	var e *env.Environment
	var err error
	if b == Kafka {
		e, err = embedded.StartKafka(ctx)
	} else {
		p := process.New()
		if err := p.Supports(b.kind()); err != nil {
			return nil, Target{}, err
		}
		e, err = env.Start(ctx, env.Spec{Components: []env.ComponentSpec{{Kind: b.kind(), Provider: env.Process}}},
			env.WithProvider(p))
	}
	if err != nil {
		return nil, Target{}, err
	}
	return e, Target{Broker: b, Endpoint: e.Component(string(b.kind())).Endpoint()}, nil
}

// describe names where a Target's broker runs, for table headers.
func (t Target) describe() string {
	return fmt.Sprintf("%s at %s", t.Broker, t.Endpoint.Redacted())
}
