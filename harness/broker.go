package harness

import (
	"context"
	"fmt"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

// Broker kinds a run can start.
const (
	BrokerKafka  = "kafka"  // embedded Kafka (kfake), the real wire protocol in-process
	BrokerMemory = "memory" // membus
)

// Broker is the broker a run starts for the system.
type Broker struct {
	// Kind is BrokerKafka or BrokerMemory.
	Kind string
	// Partitions is the partition count of each Kafka topic (1 to
	// MaxPartitions).
	Partitions int
}

// MaxPartitions bounds Broker.Partitions: the embedded broker keeps each
// partition's log and index, and a topic of a billion partitions would
// exhaust memory before the first message.
const MaxPartitions = 4096

// started is a broker a run brought up.
type started struct {
	bus  bus.Bus
	name string // "membus", "embedded-kafka"
	// component is the broker's environment handle, with its fault
	// capabilities; nil for membus, which runs in the process.
	component env.Component
	stop      func() // closes the bus and everything the environment started
}

// start brings the broker up with topics created.
func (b Broker) start(ctx context.Context, topics []string) (started, error) {
	switch b.Kind {
	case BrokerMemory:
		m := membus.New()
		return started{bus: m, name: "membus", stop: func() { _ = m.Close() }}, nil
	case BrokerKafka:
		if b.Partitions > MaxPartitions {
			return started{}, fmt.Errorf("broker partitions %d: want at most %d", b.Partitions, MaxPartitions)
		}
	default:
		return started{}, fmt.Errorf("broker %q: want %s or %s", b.Kind, BrokerKafka, BrokerMemory)
	}
	e, err := embedded.StartKafka(ctx, embedded.Partitions(max(b.Partitions, 1)), embedded.Topics(topics...))
	if err != nil {
		return started{}, err
	}
	k := e.Component("kafka")
	kb, err := kafkabus.New(k.Endpoint().Addrs)
	if err != nil {
		_ = e.Close()
		return started{}, err
	}
	name := string(k.Provider()) + "-" + string(k.Kind()) // "embedded-kafka"
	return started{bus: kb, name: name, component: k, stop: func() { _ = kb.Close(); _ = e.Close() }}, nil
}
