package backoff

import (
	"context"
	"testing"
	"time"
)

func TestNextDoublesWithinJitter(t *testing.T) {
	for _, tt := range []struct {
		name string
		rand func(int64) int64
	}{
		{"lowest draw", func(int64) int64 { return 0 }},
		{"highest draw", func(n int64) int64 { return n - 1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := New(10*time.Millisecond, 70*time.Millisecond)
			b.rand = tt.rand
			steps := []time.Duration{10, 20, 40, 70, 70}
			for i, step := range steps {
				step *= time.Millisecond
				d := b.Next()
				if d < step/2 || d > step {
					t.Fatalf("delay %d = %v, want within [%v, %v]", i, d, step/2, step)
				}
			}
			b.Reset()
			if d := b.Next(); d > 10*time.Millisecond {
				t.Fatalf("after Reset: %v, want <= 10ms", d)
			}
		})
	}
}

// TestJitterSpreads checks that loops started together do not retry
// together: their delays differ.
func TestJitterSpreads(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[New(time.Second, time.Second).Next()] = true
	}
	if len(seen) < 10 {
		t.Fatalf("20 loops drew only %d distinct delays", len(seen))
	}
}

func TestBadBoundsAreClamped(t *testing.T) {
	b := New(0, -1)
	if d := b.Next(); d <= 0 || d > time.Millisecond {
		t.Fatalf("delay %v, want (0, 1ms]", d)
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if New(time.Hour, time.Hour).Sleep(ctx) {
		t.Fatal("Sleep ran its course on a cancelled context")
	}
	if !New(time.Millisecond, time.Millisecond).Sleep(t.Context()) {
		t.Fatal("Sleep of 1ms did not complete")
	}
}
