package loadgen

import (
	"context"
	"math"
	"testing"
	"time"
)

// countPacer schedules n requests back to back, as fast as possible, so the
// benchmark measures the runner's per-request cost rather than a rate.
type countPacer struct{ n uint64 }

func (p countPacer) Pace(_ time.Duration, hits uint64) (time.Duration, bool) { return 0, hits >= p.n }
func (p countPacer) Due(uint64) time.Duration                                { return 0 }

var (
	_ Pacer     = countPacer{}
	_ Scheduler = countPacer{}
)

// BenchmarkRunnerOverhead compares the runner (scheduling, key choice, hand
// off to a worker, two HDR records per request) with a bare loop that only
// calls the driver and reads the clock, in the same run.
func BenchmarkRunnerOverhead(b *testing.B) {
	var sink uint64
	d := DriverFunc(func(_ context.Context, r Request) error { sink += r.Seq; return nil })
	b.Run("bare", func(b *testing.B) {
		ctx := context.Background()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			_ = d.Send(ctx, Request{Seq: uint64(i), Key: "k-0", KeySeq: int64(i + 1), Intended: start})
			_ = time.Since(start)
		}
	})
	b.Run("runner", func(b *testing.B) {
		cfg := Config{Rate: math.MaxFloat64, Duration: time.Hour, Workers: 1, Keys: 100}
		res, err := Run(context.Background(), cfg, d, WithPacer(countPacer{n: uint64(b.N)}))
		if err != nil {
			b.Fatal(err)
		}
		if res.Sent != uint64(b.N) {
			b.Fatalf("sent %d, want %d", res.Sent, b.N)
		}
	})
	_ = sink
}
