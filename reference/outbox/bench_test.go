package outbox

import (
	"context"
	"fmt"
	"testing"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
)

// BenchmarkRelay relays a backlog of b.N events from a memory store to a
// memory bus, per event. bare is the baseline: the same reads, encoding and
// publishes in a plain loop, without subscription, checkpoint or retry.
func BenchmarkRelay(b *testing.B) {
	setup := func(b *testing.B) (*memstore.Store, *membus.Bus) {
		b.Helper()
		ctx := b.Context()
		s := memstore.New()
		b.Cleanup(func() { _ = s.Close() })
		bs := membus.New()
		b.Cleanup(func() { _ = bs.Close() })
		const perAppend = 64
		for i := 0; i < b.N; i += perAppend {
			var es []event.Envelope
			for j := i; j < min(i+perAppend, b.N); j++ {
				e, err := event.New(fmt.Sprint(j), "Happened", fmt.Sprintf("s%d", j%16), map[string]int{"j": j})
				if err != nil {
					b.Fatal(err)
				}
				es = append(es, e)
			}
			if _, err := s.Append(ctx, "s", eventstore.Any, es...); err != nil {
				b.Fatal(err)
			}
		}
		return s, bs
	}
	b.Run("bare", func(b *testing.B) {
		s, bs := setup(b)
		ctx := b.Context()
		b.ResetTimer()
		for from := uint64(1); from <= uint64(b.N); {
			es, err := s.ReadAll(ctx, from, 256)
			if err != nil {
				b.Fatal(err)
			}
			ms := make([]*bus.Message, 0, len(es))
			for _, e := range es {
				m, err := Message(e, DefaultTopic, DefaultKey(e))
				if err != nil {
					b.Fatal(err)
				}
				ms = append(ms, m)
			}
			if err := bs.Publish(ctx, ms...); err != nil {
				b.Fatal(err)
			}
			from = es[len(es)-1].Position + 1
		}
	})
	b.Run("relay", func(b *testing.B) {
		s, bs := setup(b)
		cp := NewMemoryCheckpoint()
		r, err := New(s, bs, cp, WithBatch(256))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(b.Context())
		b.ResetTimer()
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		for r.Relayed() < uint64(b.N) {
			select {
			case err := <-done:
				b.Fatalf("Run: %v", err)
			default:
			}
			waitBriefly()
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	})
}
