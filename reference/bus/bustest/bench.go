package bustest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
)

// BenchConsume is the consume half of a backend's throughput benchmark:
// it takes the first delivery from ch with b's timer stopped (so a group
// join or a first fetch is not timed), then times acking it and b.N-1 more
// with workers goroutines, each spending work per message before its ack,
// and reports msgs/s. The caller stops the timer before subscribing.
func BenchConsume(ctx context.Context, b *testing.B, ch <-chan bus.Delivery, workers int, work time.Duration) {
	b.Helper()
	d := Next(ctx, b, ch)
	b.StartTimer()
	if err := d.Ack(ctx); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	left := b.N - 1
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if left == 0 {
			return false
		}
		left--
		return true
	}
	for range workers {
		wg.Go(func() {
			for take() {
				var d bus.Delivery
				select {
				case got, ok := <-ch:
					if !ok {
						b.Error("subscription closed")
						return
					}
					d = got
				case <-ctx.Done():
					b.Error("no delivery before the deadline")
					return
				}
				if work > 0 {
					time.Sleep(work)
				}
				if err := d.Ack(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	ReportRate(b, b.N)
}

// ReportRate reports n messages over the benchmark's timed duration as
// msgs/s, the unit the bus benchmarks compare with their bare baselines.
func ReportRate(b *testing.B, n int) {
	b.Helper()
	if s := b.Elapsed().Seconds(); s > 0 && n > 0 {
		b.ReportMetric(float64(n)/s, "msgs/s")
	}
}

// BenchPublish is the publish half of a backend's throughput benchmark:
// one warm-up message untimed (topic creation, connections), then b.N
// messages of payload bytes over keys keys, batch per Publish call from
// one goroutine, reporting msgs/s. IDs are unique within the topic, as
// brokers that deduplicate by ID (JetStream) need.
func BenchPublish(ctx context.Context, b *testing.B, p bus.Publisher, topic string, batch, keys, payload int) {
	b.Helper()
	body := make([]byte, payload)
	if err := p.Publish(ctx, &bus.Message{ID: "warm-up", Topic: topic, Key: "k0", Payload: body}); err != nil {
		b.Fatal(err)
	}
	msgs := make([]*bus.Message, batch)
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		for j := range n {
			msgs[j] = &bus.Message{ID: strconv.Itoa(i + j), Topic: topic, Key: "k" + strconv.Itoa((i+j)%keys), Payload: body}
		}
		if err := p.Publish(ctx, msgs[:n]...); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ReportRate(b, b.N)
}
