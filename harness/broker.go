package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/container"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/harness/env/external"
	"github.com/edkit-dev/edkit/harness/env/process"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/amqpbus"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/bus/natsbus"
	"github.com/edkit-dev/edkit/reference/bus/redisbus"
)

// Broker kinds a run can start.
const (
	BrokerKafka    = "kafka"    // Kafka: embedded (kfake, the real wire protocol in-process) by default
	BrokerMemory   = "memory"   // membus, in the process
	BrokerRabbitMQ = "rabbitmq" // RabbitMQ: a local server (process provider) by default
	BrokerNATS     = "nats"     // NATS JetStream: a local server by default
	BrokerRedis    = "redis"    // Redis Streams: a local server by default
)

// BrokerKinds lists the kinds Broker.Kind takes, in a stable order.
func BrokerKinds() []string {
	return []string{BrokerKafka, BrokerMemory, BrokerNATS, BrokerRabbitMQ, BrokerRedis}
}

// Broker is the broker a run starts for the system (or, with the external
// provider, the one it connects to).
type Broker struct {
	// Kind is one of BrokerKinds.
	Kind string
	// Provider says how the broker comes to life: env.Embedded (Kafka's
	// default), env.Process (the others' default: a locally installed
	// server on free ports), env.Container, or env.External with Endpoint.
	// Ignored for memory.
	Provider env.ProviderName
	// Endpoint locates an external broker (Addrs for Kafka and Redis, URL
	// for RabbitMQ and NATS).
	Endpoint env.Endpoint
	// Partitions is the partition count of each Kafka topic (1 to
	// MaxPartitions).
	Partitions int
	// Durable asks for a broker that keeps what it acknowledged across a
	// kill and restart (env.ComponentSpec.Durable): a run with broker kills
	// needs it to promise anything.
	Durable bool
	// Proxied puts a network-fault proxy between the run and the broker,
	// so chaos can add latency, cut or reset connections, or lose replies
	// (chaos.Latency, chaos.Partition, chaos.OneWay, …) on any provider.
	Proxied bool
}

// MaxPartitions bounds Broker.Partitions: the embedded broker keeps each
// partition's log and index, and a topic of a billion partitions would
// exhaust memory before the first message.
const MaxPartitions = 4096

// started is a broker a run brought up.
type started struct {
	bus  bus.Bus
	name string // "membus", "embedded-kafka", "process-redis"
	// component is the broker's environment handle, with its fault
	// capabilities; nil for membus, which runs in the process.
	component env.Component
	stop      func() // closes the bus and everything the environment started
}

// Validate reports a broker a run cannot start, naming the setting.
func (b Broker) Validate() error {
	var errs []error
	if !validBrokerKind(b.Kind) {
		errs = append(errs, fmt.Errorf("broker %q: want one of %s", b.Kind, strings.Join(BrokerKinds(), ", ")))
	}
	if b.Partitions > MaxPartitions {
		errs = append(errs, fmt.Errorf("broker partitions %d: want at most %d", b.Partitions, MaxPartitions))
	}
	switch b.provider() {
	case env.Embedded, env.Process, env.Container:
	case env.External:
		if len(b.Endpoint.Addrs) == 0 && b.Endpoint.URL == "" {
			errs = append(errs, errors.New("broker: the external provider needs an address or URL"))
		}
	default:
		errs = append(errs, fmt.Errorf("broker provider %q: want embedded, process, container or external", b.Provider))
	}
	return errors.Join(errs...)
}

func validBrokerKind(k string) bool {
	for _, v := range BrokerKinds() {
		if v == k {
			return true
		}
	}
	return false
}

// provider is b.Provider or the kind's default.
func (b Broker) provider() env.ProviderName {
	switch {
	case b.Kind == BrokerMemory:
		return env.Embedded
	case b.Provider != "":
		return b.Provider
	case b.Kind == BrokerKafka:
		return env.Embedded
	}
	return env.Process
}

// start brings the broker up with topics created and opens edkit's bus on
// it.
func (b Broker) start(ctx context.Context, topics []string) (started, error) {
	if err := b.Validate(); err != nil {
		return started{}, err
	}
	if b.Kind == BrokerMemory {
		m := membus.New()
		return started{bus: m, name: "membus", stop: func() { _ = m.Close() }}, nil
	}
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{b.spec(topics)}}, brokerProviders()...)
	if err != nil {
		return started{}, err
	}
	c := e.Component(b.Kind)
	bb, err := b.open(ctx, c)
	if err != nil {
		_ = e.Close()
		return started{}, err
	}
	name := string(c.Provider()) + "-" + string(c.Kind()) // "embedded-kafka"
	return started{bus: bb, name: name, component: c, stop: func() { _ = bb.Close(); _ = e.Close() }}, nil
}

// spec is the environment component b asks for.
func (b Broker) spec(topics []string) env.ComponentSpec {
	s := env.ComponentSpec{Name: b.Kind, Kind: env.Kind(b.Kind), Provider: b.provider(), Durable: b.Durable, Proxied: b.Proxied}
	if s.Kind == env.KindKafka && s.Provider == env.Embedded {
		s = embedded.KafkaSpec(embedded.Partitions(max(b.Partitions, 1)), embedded.Topics(topics...))
		s.Name, s.Durable, s.Proxied = b.Kind, b.Durable, b.Proxied
	}
	if s.Provider == env.External {
		s.Addrs, s.URL = b.Endpoint.Addrs, b.Endpoint.URL
	}
	return s
}

// brokerProviders are the providers a run's broker may come from.
func brokerProviders() []env.StartOption {
	return []env.StartOption{
		env.WithProvider(embedded.New()),
		env.WithProvider(process.New()),
		env.WithProvider(container.New()),
		env.WithProvider(external.New()),
	}
}

// open opens edkit's bus backend for c. Kafka topics the embedded broker
// did not create (a container's, an external cluster's) are created on
// first use with b's partitions.
func (b Broker) open(ctx context.Context, c env.Component) (bus.Bus, error) {
	ep := c.Endpoint()
	switch c.Kind() {
	case env.KindKafka:
		var opts []kafkabus.Option
		if c.Provider() != env.Embedded {
			opts = append(opts, kafkabus.AutoCreateTopics(max(b.Partitions, 1)))
		}
		return kafkabus.New(ep.Addrs, opts...)
	case env.KindRabbitMQ:
		return amqpbus.New(ctx, ep.URL)
	case env.KindNATS:
		return natsbus.New(ep.URL)
	case env.KindRedis:
		return redisbus.New(firstAddr(ep))
	}
	return nil, fmt.Errorf("broker %s: no bus for kind %q", c.Name(), c.Kind())
}

// firstAddr is Redis's address: the first of Addrs, or the URL's host.
func firstAddr(ep env.Endpoint) string {
	if len(ep.Addrs) > 0 {
		return ep.Addrs[0]
	}
	return strings.TrimPrefix(ep.URL, "redis://")
}
