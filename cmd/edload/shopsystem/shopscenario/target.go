package shopscenario

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/shop"
)

// Target is where a scenario runs: it provides a fresh, isolated bus for
// each run. The runner closes the bus when the run ends.
type Target interface {
	// Name identifies the target in outcomes ("memory", "kafka").
	Name() string
	// NewBus returns a bus on which the shop's topics are empty and no
	// consumer group has history; namespace is unique per run.
	NewBus(ctx context.Context, namespace string) (bus.Bus, error)
}

// MemoryTarget runs scenarios on a fresh membus per run.
type MemoryTarget struct{}

// InMemory returns the in-memory target: microseconds per message, no
// setup.
func InMemory() *MemoryTarget { return &MemoryTarget{} }

// Name is "memory".
func (*MemoryTarget) Name() string { return "memory" }

// NewBus returns a new membus; runs never share one, so no namespacing.
func (*MemoryTarget) NewBus(context.Context, string) (bus.Bus, error) { return membus.New(), nil }

// KafkaTarget runs scenarios on a Kafka cluster. Runs share the cluster
// but not topics or groups: each run's topic and group names carry its
// namespace, so scenarios can run one after another (or at once) on one
// cluster without seeing each other's messages.
type KafkaTarget struct {
	brokers    []string
	partitions int
}

// Kafka returns a target over the given bootstrap brokers (for example an
// embedded cluster from harness/env).
func Kafka(brokers []string) *KafkaTarget {
	return &KafkaTarget{brokers: append([]string(nil), brokers...), partitions: 4}
}

// Name is "kafka".
func (*KafkaTarget) Name() string { return "kafka" }

// NewBus creates the namespaced shop topics and returns a bus that maps the
// shop's fixed topic and group names into the namespace.
func (k *KafkaTarget) NewBus(ctx context.Context, namespace string) (bus.Bus, error) {
	kb, err := kafkabus.New(k.brokers)
	if err != nil {
		return nil, err
	}
	prefix := namespace + "."
	topics := []string{prefix + shop.TopicCommands, prefix + shop.TopicEvents, prefix + shop.TopicDLQ}
	if err := k.createTopics(ctx, topics); err != nil {
		_ = kb.Close()
		return nil, fmt.Errorf("scenarios: kafka topics for %s: %w", namespace, err)
	}
	return &namespaced{inner: kb, prefix: prefix}, nil
}

// createTopics creates the run's topics through kafka-go's Client rather
// than kafkabus.EnsureTopics: the Client goes through kafka-go's shared
// default transport, which then refreshes its cached metadata and waits
// until the new topics are visible. kafkabus's writer uses that same
// transport; after a creation over a plain connection its cache stays stale
// for up to the metadata TTL (6 s) and publishes fail with
// UnknownTopicOrPartition.
func (k *KafkaTarget) createTopics(ctx context.Context, topics []string) error {
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: k.partitions, ReplicationFactor: 1})
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(k.brokers...)}
	resp, err := c.CreateTopics(ctx, req)
	if err != nil {
		return err
	}
	for t, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create %s: %w", t, terr)
		}
	}
	return nil
}

// quietWindow is how long a Kafka run must be idle, besides every
// published message being handled, before it counts as quiescent: it
// covers a redelivery after a rebalance.
func (*KafkaTarget) quietWindow() time.Duration { return 50 * time.Millisecond }

var runCounter atomic.Uint64

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// namespaceFor makes a Kafka-safe, unique namespace for one run.
func namespaceFor(name string) string {
	s := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(s) > 40 {
		s = s[:40]
	}
	return fmt.Sprintf("sc-%s-%d-%d", s, time.Now().UnixNano()%1e9, runCounter.Add(1))
}

// namespaced prefixes topic and group names on the way in and strips the
// prefix from delivered messages, so the shop and the recorder only ever
// see the shop's own names.
type namespaced struct {
	inner  bus.Bus
	prefix string
}

var _ bus.Bus = (*namespaced)(nil)

func (n *namespaced) Publish(ctx context.Context, msgs ...*bus.Message) error {
	out := make([]*bus.Message, len(msgs))
	for i, m := range msgs {
		c := *m
		c.Topic = n.prefix + m.Topic
		out[i] = &c
	}
	return n.inner.Publish(ctx, out...)
}

func (n *namespaced) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	in, err := n.inner.Subscribe(ctx, n.prefix+topic, n.prefix+group)
	if err != nil {
		return nil, err
	}
	out := make(chan bus.Delivery)
	go func() {
		defer close(out)
		for d := range in {
			m := d.Message().Clone()
			m.Topic = strings.TrimPrefix(m.Topic, n.prefix)
			select {
			case out <- &nsDelivery{Delivery: d, msg: m}:
			case <-ctx.Done():
				_ = d.Nack(context.WithoutCancel(ctx), true)
			}
		}
	}()
	return out, nil
}

func (n *namespaced) Close() error { return n.inner.Close() }

type nsDelivery struct {
	bus.Delivery
	msg *bus.Message
}

func (d *nsDelivery) Message() *bus.Message { return d.msg }
