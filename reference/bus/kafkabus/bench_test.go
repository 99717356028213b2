package kafkabus_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
)

// The benchmarks put kafkabus beside a bare kafka-go loop with the same
// settings (acks=all, hash balancer, 1 ms batch timeout; the same reader
// configuration), against one embedded Kafka per benchmark, so the ratio
// is what kafkabus costs. Topics have benchPartitions partitions and
// messages are spread over benchKeys keys of benchPayload bytes each.
const (
	benchPartitions = 4
	benchKeys       = 64
	benchPayload    = 256
)

var benchBatches = []int{1, 100}

func benchBrokers(b *testing.B) []string {
	b.Helper()
	e, err := embedded.StartKafka(context.Background())
	if err != nil {
		b.Fatalf("embedded kafka cannot start: %v", err)
	}
	b.Cleanup(func() { _ = e.Close() })
	return e.Component("kafka").Endpoint().Addrs
}

// benchTopic creates a fresh topic for one benchmark run.
func benchTopic(b *testing.B, bb *kafkabus.Bus, suffix string) string {
	b.Helper()
	topic := bustest.Topic(b, suffix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bb.EnsureTopics(ctx, benchPartitions, topic); err != nil {
		b.Fatal(err)
	}
	return topic
}

func benchBus(b *testing.B, brokers []string, opts ...kafkabus.Option) *kafkabus.Bus {
	b.Helper()
	bb, err := kafkabus.New(brokers, append([]kafkabus.Option{kafkabus.AutoCreateTopics(benchPartitions)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bb.Close() })
	return bb
}

// bareWriter is kafkabus's writer configuration without kafkabus.
func bareWriter(b *testing.B, brokers []string) *kafka.Writer {
	b.Helper()
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond,
		WriteTimeout: 10 * time.Second,
		// As kafkabus.AutoCreateTopics does: look a just-created topic up
		// again instead of trusting the cached metadata.
		AllowAutoTopicCreation: true,
	}
	b.Cleanup(func() { _ = w.Close() })
	return w
}

func bareMessage(topic string, i int, payload []byte) kafka.Message {
	id := strconv.Itoa(i)
	return kafka.Message{Topic: topic, Key: []byte("k" + strconv.Itoa(i%benchKeys)), Value: payload,
		Headers: []kafka.Header{{Key: kafkabus.HeaderID, Value: []byte(id)}}}
}

// BenchmarkPublish times kafkabus.Publish of b.N messages, batch at a time,
// from one goroutine: each call returns once all replicas acked.
func BenchmarkPublish(b *testing.B) {
	brokers := benchBrokers(b)
	for _, n := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			bb := benchBus(b, brokers)
			topic := benchTopic(b, bb, "pub")
			bustest.BenchPublish(ctx, b, bb, topic, n, benchKeys, benchPayload)
		})
	}
}

// BenchmarkBarePublish is BenchmarkPublish with a bare kafka-go Writer.
func BenchmarkBarePublish(b *testing.B) {
	brokers := benchBrokers(b)
	for _, n := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			topic := benchTopic(b, benchBus(b, brokers), "barepub")
			w := bareWriter(b, brokers)
			payload := make([]byte, benchPayload)
			msgs := make([]kafka.Message, n)
			if err := w.WriteMessages(ctx, bareMessage(topic, 0, payload)); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i += n {
				k := min(n, b.N-i)
				for j := range k {
					msgs[j] = bareMessage(topic, i+j, payload)
				}
				if err := w.WriteMessages(ctx, msgs[:k]...); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			bustest.ReportRate(b, b.N)
		})
	}
}

// prefill writes n messages to a fresh topic with a bare writer, untimed.
func prefill(b *testing.B, brokers []string, bb *kafkabus.Bus, n int) string {
	b.Helper()
	topic := benchTopic(b, bb, "con")
	w := bareWriter(b, brokers)
	w.BatchSize = 1000
	payload := make([]byte, benchPayload)
	batch := make([]kafka.Message, 0, 1000)
	for i := range n {
		batch = append(batch, bareMessage(topic, i, payload))
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.WriteMessages(context.Background(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return topic
}

// BenchmarkConsume times receiving and acking b.N pre-published messages
// through one subscription, from the first delivery (after the group
// join) to the last ack, with 1 or 8 handler goroutines. The "inflight"
// sub-benchmarks allow 8 unsettled deliveries per partition; the "work"
// ones spend 1 ms per message in the handler, where that concurrency
// beyond one delivery per partition pays.
func BenchmarkConsume(b *testing.B) {
	brokers := benchBrokers(b)
	cases := []struct {
		name    string
		workers int
		work    time.Duration
		opts    []kafkabus.Option
	}{
		{"workers=1", 1, 0, nil},
		{"workers=8", 8, 0, nil},
		{"workers=8/inflight=8", 8, 0, []kafkabus.Option{kafkabus.MaxInFlightPerPartition(8)}},
		{"workers=8/work=1ms", 8, time.Millisecond, nil},
		{"workers=8/work=1ms/inflight=8", 8, time.Millisecond, []kafkabus.Option{kafkabus.MaxInFlightPerPartition(8)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.StopTimer()
			bb := benchBus(b, brokers, c.opts...)
			topic := prefill(b, brokers, bb, b.N)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			ch, err := bb.Subscribe(ctx, topic, "bench")
			if err != nil {
				b.Fatal(err)
			}
			bustest.BenchConsume(ctx, b, ch, c.workers, c.work)
			cancel()
			for range ch {
			}
		})
	}
}

// BenchmarkBareConsume is BenchmarkConsume with a bare kafka-go Reader of
// the same configuration in a FetchMessage/CommitMessages loop: "commit=each"
// commits every message synchronously, "commit=interval" lets kafka-go
// commit in the background every 10 ms.
func BenchmarkBareConsume(b *testing.B) {
	brokers := benchBrokers(b)
	for _, interval := range []time.Duration{0, 10 * time.Millisecond} {
		name := "commit=each"
		if interval > 0 {
			name = "commit=interval"
		}
		b.Run(name, func(b *testing.B) {
			b.StopTimer()
			topic := prefill(b, brokers, benchBus(b, brokers), b.N)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: brokers, GroupID: "bench", Topic: topic,
				MinBytes: 1, MaxBytes: 10e6, MaxWait: 50 * time.Millisecond, StartOffset: kafka.FirstOffset,
				HeartbeatInterval: 200 * time.Millisecond, RebalanceTimeout: 2 * time.Second,
				SessionTimeout: 6 * time.Second, JoinGroupBackoff: 100 * time.Millisecond,
				ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 50 * time.Millisecond,
				CommitInterval: interval,
			})
			defer func() { _ = r.Close() }()
			for i := range b.N {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					b.StartTimer()
				}
				if err := r.CommitMessages(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			bustest.ReportRate(b, b.N)
		})
	}
}
