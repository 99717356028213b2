package amqpbus_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/amqpbus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
)

// The benchmarks put amqpbus beside a bare amqp091-go loop with the same
// settings (persistent messages on a confirm-mode channel, waiting for
// every confirm; a manual-ack consumer with prefetch 16), on the
// TestMain's RabbitMQ. Every topic has one group's quorum queue bound
// (amqpbus's default queue type), so published messages are stored, not
// dropped as unroutable.
const (
	benchKeys    = 64
	benchPayload = 256
	benchGroup   = "bench"
)

var benchBatches = []int{1, 100}

// benchBus returns a bus and a new topic with the bench group's queue.
func benchBus(b *testing.B, suffix string) (*amqpbus.Bus, string) {
	b.Helper()
	if rabbitURL == "" {
		b.Fatal(rabbitDown)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bb, err := amqpbus.New(ctx, rabbitURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bb.Close() })
	topic := bustest.Topic(b, suffix)
	if err := bb.DeclareGroup(ctx, topic, benchGroup); err != nil {
		b.Fatal(err)
	}
	return bb, topic
}

// bareChannel opens a connection and a channel, in confirm mode for
// publishing.
func bareChannel(b *testing.B, confirm bool) *amqp.Channel {
	b.Helper()
	conn, err := amqp.Dial(rabbitURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if confirm {
		if err := ch.Confirm(false); err != nil {
			b.Fatal(err)
		}
	}
	return ch
}

// barePublish publishes messages first..first+n-1 and waits for every
// confirm.
func barePublish(ctx context.Context, b *testing.B, ch *amqp.Channel, topic string, first, n int, payload []byte) {
	b.Helper()
	dcs := make([]*amqp.DeferredConfirmation, 0, n)
	for i := first; i < first+n; i++ {
		key := "k" + strconv.Itoa(i%benchKeys)
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, topic, key, false, false, amqp.Publishing{
			MessageId: strconv.Itoa(i), DeliveryMode: amqp.Persistent, Body: payload,
			Headers: amqp.Table{amqpbus.HeaderKey: key},
		})
		if err != nil {
			b.Fatal(err)
		}
		dcs = append(dcs, dc)
	}
	for _, dc := range dcs {
		if ok, err := dc.WaitContext(ctx); err != nil || !ok {
			b.Fatalf("confirm: ok=%v err=%v", ok, err)
		}
	}
}

// BenchmarkPublish times amqpbus.Publish of b.N messages, batch at a time,
// from one goroutine.
func BenchmarkPublish(b *testing.B) {
	for _, n := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			bb, topic := benchBus(b, "pub")
			bustest.BenchPublish(ctx, b, bb, topic, n, benchKeys, benchPayload)
		})
	}
}

// BenchmarkBarePublish is BenchmarkPublish on a bare confirm channel.
func BenchmarkBarePublish(b *testing.B) {
	for _, n := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			_, topic := benchBus(b, "barepub")
			ch := bareChannel(b, true)
			payload := make([]byte, benchPayload)
			b.ResetTimer()
			for i := 0; i < b.N; i += n {
				barePublish(ctx, b, ch, topic, i, min(n, b.N-i), payload)
			}
			b.StopTimer()
			bustest.ReportRate(b, b.N)
		})
	}
}

// prefill publishes n messages to a new topic, untimed.
func prefill(b *testing.B) (*amqpbus.Bus, string) {
	b.Helper()
	bb, topic := benchBus(b, "con")
	ch := bareChannel(b, true)
	payload := make([]byte, benchPayload)
	for i := 0; i < b.N; i += 1000 {
		barePublish(context.Background(), b, ch, topic, i, min(1000, b.N-i), payload)
	}
	return bb, topic
}

// BenchmarkConsume times receiving and acking b.N pre-published messages
// through one subscription, from the first delivery to the last ack, with
// 1 or 8 handler goroutines.
func BenchmarkConsume(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.StopTimer()
			bb, topic := prefill(b)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			ch, err := bb.Subscribe(ctx, topic, benchGroup)
			if err != nil {
				b.Fatal(err)
			}
			bustest.BenchConsume(ctx, b, ch, workers, 0)
			cancel()
			for range ch {
			}
		})
	}
}

// BenchmarkBareConsume is BenchmarkConsume with a bare consumer: prefetch
// 16, manual acks, one goroutine.
func BenchmarkBareConsume(b *testing.B) {
	b.StopTimer()
	_, topic := prefill(b)
	ch := bareChannel(b, false)
	if err := ch.Qos(16, 0, false); err != nil {
		b.Fatal(err)
	}
	ds, err := ch.Consume(amqpbus.QueueName(topic, benchGroup), "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	timeout := time.After(5 * time.Minute)
	for i := range b.N {
		var d amqp.Delivery
		select {
		case d = <-ds:
		case <-timeout:
			b.Fatalf("%d of %d delivered", i, b.N)
		}
		if i == 0 {
			b.StartTimer()
		}
		if err := d.Ack(false); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	bustest.ReportRate(b, b.N)
}

// BenchmarkRequeueStorm measures what one Nack(requeue) costs the key it
// belongs to: the wait from the nack to the key's next delivery, with the
// key's 50-message backlog buffered (prefetch 16 unless the option says
// otherwise). One op is one requeue. The options are the ways out of the
// quorum-queue stall measured for issue 10: requeue in place (the
// default), classic queues, and broker requeue with a prefetch above the
// backlog; "quorum/broker" is the old default, which waits RequeueWait on
// every requeue (run it with -benchtime 3x).
func BenchmarkRequeueStorm(b *testing.B) {
	for _, o := range []struct {
		name string
		opts []amqpbus.Option
	}{
		{"quorum/in-place", []amqpbus.Option{amqpbus.WithQueueType(amqpbus.Quorum)}},
		{"classic/in-place", []amqpbus.Option{amqpbus.WithQueueType(amqpbus.Classic)}},
		{"classic/broker", []amqpbus.Option{amqpbus.WithQueueType(amqpbus.Classic), amqpbus.BrokerRequeue()}},
		{"quorum/broker-prefetch64", []amqpbus.Option{amqpbus.WithQueueType(amqpbus.Quorum), amqpbus.BrokerRequeue(), amqpbus.Prefetch(64)}},
		{"quorum/broker", []amqpbus.Option{amqpbus.WithQueueType(amqpbus.Quorum), amqpbus.BrokerRequeue()}},
	} {
		b.Run(o.name, func(b *testing.B) { benchRequeue(b, o.opts) })
	}
}

func benchRequeue(b *testing.B, opts []amqpbus.Option) {
	b.Helper()
	if rabbitURL == "" {
		b.Fatal(rabbitDown)
	}
	ctx := bustest.Context(b, 10*time.Minute)
	bb, err := amqpbus.New(ctx, rabbitURL, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bb.Close() }()
	topic := bustest.Topic(b, "storm")
	ch, err := bb.Subscribe(ctx, topic, "g")
	if err != nil {
		b.Fatal(err)
	}
	var backlog []*bus.Message
	for i := range 50 {
		backlog = append(backlog, &bus.Message{ID: fmt.Sprint("s", i), Topic: topic, Key: "storm"})
	}
	if err := bb.Publish(ctx, backlog...); err != nil {
		b.Fatal(err)
	}
	d := bustest.Next(ctx, b, ch)
	b.ResetTimer()
	for range b.N {
		if err := d.Nack(ctx, true); err != nil {
			b.Fatal(err)
		}
		d = bustest.Next(ctx, b, ch)
	}
	b.StopTimer()
}
