package pgstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/pgstore"
)

// BenchmarkAppend measures the cost of the gap guard: concurrent
// single-event appends, each goroutine to its own stream, with the head
// lock (guarded) and with positions from a bare sequence (unguarded, the
// unsafe baseline the gap test rejects).
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []pgstore.Option
	}{
		{"guarded", nil},
		{"unguarded", []pgstore.Option{pgstore.WithoutGapGuard()}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := benchStore(b, c.opts...)
			var g atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := g.Add(1)
				stream := fmt.Sprintf("bench-%d", w)
				for i := 0; pb.Next(); i++ {
					e := event.Envelope{ID: fmt.Sprintf("%d-%d", w, i), Type: "Bench", Data: []byte(`{}`)}
					if _, err := s.Append(context.Background(), stream, eventstore.Any, e); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func benchStore(b *testing.B, opts ...pgstore.Option) *pgstore.Store {
	b.Helper()
	if pgURL == "" {
		b.Fatal(pgDownWhy)
	}
	name := freshSchema(b)
	ctx := context.Background()
	s, err := pgstore.New(ctx, pgURL, append([]pgstore.Option{pgstore.WithSchema(name), pgstore.WithMaxConns(16)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}
