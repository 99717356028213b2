package loadgen

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestConfigValidateWarmUpAndKeyBound(t *testing.T) {
	good := Config{Rate: 100, Duration: time.Second, Workers: 1, Keys: 1}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   error
	}{
		{"no warm-up", func(*Config) {}, nil},
		{"warm-up just below the duration", func(c *Config) { c.WarmUp = time.Second - time.Nanosecond }, nil},
		{"negative warm-up", func(c *Config) { c.WarmUp = -time.Second }, ErrBadWarmUp},
		{"warm-up equal to the duration", func(c *Config) { c.WarmUp = time.Second }, ErrBadWarmUp},
		{"warm-up longer than the duration", func(c *Config) { c.WarmUp = time.Minute }, ErrBadWarmUp},
		{"keys at the bound", func(c *Config) { c.Keys = MaxKeys }, nil},
		{"keys above the bound", func(c *Config) { c.Keys = MaxKeys + 1 }, ErrBadKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			err := c.Validate()
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
	// A missing duration is reported once, as a bad duration, not again as
	// a warm-up that does not fit it.
	if err := (Config{Rate: 1, Workers: 1, Keys: 1}).Validate(); errors.Is(err, ErrBadWarmUp) || !errors.Is(err, ErrBadDuration) {
		t.Fatalf("Validate(no duration) = %v, want only ErrBadDuration", err)
	}
}

// TestRunExcludesWarmUp makes the first 100 ms of a 1000/s run slow (a cold
// system) and checks that those 100 requests are sent, counted and marked,
// but that none of their latency reaches the statistics.
func TestRunExcludesWarmUp(t *testing.T) {
	const (
		warmUp = 100 * time.Millisecond
		slow   = 300 * time.Millisecond
	)
	var marked, unmarked atomic.Int64
	d := DriverFunc(func(_ context.Context, r Request) error {
		due := time.Duration(r.Seq) * time.Millisecond // at 1000/s
		if r.WarmUp != (due < warmUp) {
			t.Errorf("request %d due at %v has WarmUp=%v", r.Seq, due, r.WarmUp)
		}
		if r.WarmUp {
			marked.Add(1)
			time.Sleep(slow) // the simulated cold system; not a test wait
		} else {
			unmarked.Add(1)
		}
		return nil
	})
	// Enough workers that the slow warm-up requests never hold up the
	// measured ones: about 100 are in flight at once.
	cfg := Config{Rate: 1000, Duration: 300 * time.Millisecond, Workers: 256, Keys: 4, WarmUp: warmUp}
	res, err := Run(t.Context(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 300 || res.OK != 300 || res.WarmUp != 100 || marked.Load() != 100 || unmarked.Load() != 200 {
		t.Fatalf("sent=%d ok=%d warm-up=%d (marked %d, unmarked %d), want 300/300/100 (100, 200)",
			res.Sent, res.OK, res.WarmUp, marked.Load(), unmarked.Load())
	}
	if res.Latency.Count != 200 || res.ScheduleLag.Count != 200 {
		t.Fatalf("latency samples=%d lag samples=%d, want 200 (the requests after the warm-up)",
			res.Latency.Count, res.ScheduleLag.Count)
	}
	if res.Latency.Max >= slow/2 {
		t.Fatalf("max latency %v: a warm-up request's %v latency was recorded", res.Latency.Max, slow)
	}
}
