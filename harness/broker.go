package harness

import (
	"context"
	"fmt"

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

// start brings the broker up with topics created. stop closes the bus and
// everything the environment started.
func (b Broker) start(ctx context.Context, topics []string) (bus.Bus, string, func(), error) {
	switch b.Kind {
	case BrokerMemory:
		m := membus.New()
		return m, "membus", func() { _ = m.Close() }, nil
	case BrokerKafka:
		if b.Partitions > MaxPartitions {
			return nil, "", nil, fmt.Errorf("broker partitions %d: want at most %d", b.Partitions, MaxPartitions)
		}
	default:
		return nil, "", nil, fmt.Errorf("broker %q: want %s or %s", b.Kind, BrokerKafka, BrokerMemory)
	}
	e, err := embedded.StartKafka(ctx, embedded.Partitions(max(b.Partitions, 1)), embedded.Topics(topics...))
	if err != nil {
		return nil, "", nil, err
	}
	k := e.Component("kafka")
	kb, err := kafkabus.New(k.Endpoint().Addrs)
	if err != nil {
		_ = e.Close()
		return nil, "", nil, err
	}
	name := string(k.Provider()) + "-" + string(k.Kind()) // "embedded-kafka"
	return kb, name, func() { _ = kb.Close(); _ = e.Close() }, nil
}
