package brokerbench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
)

// kafkaBare is kafka-go used directly, with kafkabus's settings so the
// ratio is what kafkabus costs, not a different guarantee: a Writer with
// acks from all replicas, the hash balancer and a 1 ms batch timeout; a
// consumer-group Reader with kafkabus's group timings, committing acked
// offsets in the background (as kafkabus does) every 10 ms.
type kafkaBare struct {
	addrs []string
	names names
	w     Workload
}

func (d *kafkaBare) library() string { return "kafka-go" }

func (d *kafkaBare) setup(ctx context.Context) error {
	c := &kafka.Client{Addr: kafka.TCP(d.addrs...)}
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: d.names.topic, NumPartitions: d.w.Partitions, ReplicationFactor: 1},
	}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", d.names.topic, err)
	}
	if err := res.Errors[d.names.topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", d.names.topic, err)
	}
	return nil
}

func (d *kafkaBare) teardown(ctx context.Context) error {
	return kafkaDeleteTopic(ctx, d.addrs, d.names.topic)
}

func kafkaDeleteTopic(ctx context.Context, addrs []string, topic string) error {
	c := &kafka.Client{Addr: kafka.TCP(addrs...)}
	res, err := c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err != nil {
		return err
	}
	return res.Errors[topic]
}

func (d *kafkaBare) producer(context.Context) (producer, error) {
	return &kafkaProducer{topic: d.names.topic, w: &kafka.Writer{
		Addr:         kafka.TCP(d.addrs...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond,
		WriteTimeout: 10 * time.Second,
		// As kafkabus.AutoCreateTopics does: look a just-created topic
		// up again rather than trust cached metadata.
		AllowAutoTopicCreation: true,
	}}, nil
}

type kafkaProducer struct {
	topic string
	w     *kafka.Writer
	msgs  []kafka.Message
}

func (p *kafkaProducer) publish(ctx context.Context, batch []message) error {
	if len(p.msgs) < len(batch) {
		p.msgs = make([]kafka.Message, len(batch))
	}
	for i, m := range batch {
		p.msgs[i] = kafka.Message{Topic: p.topic, Key: []byte(m.key), Value: m.payload,
			Headers: []kafka.Header{{Key: "id", Value: []byte(m.id)}}}
	}
	return p.w.WriteMessages(ctx, p.msgs[:len(batch)]...)
}

func (p *kafkaProducer) close() error { return p.w.Close() }

func (d *kafkaBare) consumer(context.Context) (consumer, error) {
	return &kafkaConsumer{r: kafka.NewReader(kafka.ReaderConfig{
		Brokers: d.addrs, GroupID: d.names.group, Topic: d.names.topic,
		MinBytes: 1, MaxBytes: 10e6, MaxWait: 50 * time.Millisecond, StartOffset: kafka.FirstOffset,
		HeartbeatInterval: 200 * time.Millisecond, RebalanceTimeout: 2 * time.Second,
		SessionTimeout: 6 * time.Second, JoinGroupBackoff: 100 * time.Millisecond,
		ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 50 * time.Millisecond,
		CommitInterval: 10 * time.Millisecond,
	})}, nil
}

type kafkaConsumer struct {
	r    *kafka.Reader
	last kafka.Message
}

func (c *kafkaConsumer) next(ctx context.Context) (int64, error) {
	m, err := c.r.FetchMessage(ctx)
	if err != nil {
		return 0, err
	}
	c.last = m
	return stamp(m.Value), nil
}

func (c *kafkaConsumer) ack(ctx context.Context) error { return c.r.CommitMessages(ctx, c.last) }

func (c *kafkaConsumer) close() error { return c.r.Close() }

// kafkaEdkit is kafkabus with its defaults; topics are created with the
// workload's partitions before the run, as production topics are.
func kafkaEdkit(addrs []string, n names, w Workload, wrap func(bus.Bus) bus.Bus) *busDriver {
	open := func(context.Context) (*kafkabus.Bus, error) {
		return kafkabus.New(addrs, kafkabus.AutoCreateTopics(w.Partitions))
	}
	return &busDriver{
		lib: "kafkabus", names: n, wrap: wrap,
		open: func(ctx context.Context) (bus.Bus, error) { return open(ctx) },
		prepare: func(ctx context.Context) error {
			b, err := open(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = b.Close() }() // used for one admin request
			return b.EnsureTopics(ctx, w.Partitions, n.topic)
		},
		remove: func(ctx context.Context) error { return kafkaDeleteTopic(ctx, addrs, n.topic) },
	}
}
