package loadgen

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustSteps(t *testing.T, steps ...Step) *StepPacer {
	t.Helper()
	p, err := NewStepPacer(steps...)
	if err != nil {
		t.Fatalf("NewStepPacer(%v) = %v", steps, err)
	}
	return p
}

// countBefore is how many requests a Scheduler has due before at: the
// integral of its rate from 0 to at, rounded up.
func countBefore(s Scheduler, at time.Duration) uint64 {
	n := uint64(0)
	for s.Due(n) < at {
		n++
	}
	return n
}

func TestRampPacerDue(t *testing.T) {
	up := RampPacer{From: 100, To: 1000, Over: 30 * time.Second}
	down := RampPacer{From: 1000, To: 100, Over: 30 * time.Second}
	flat := RampPacer{From: 100, To: 100, Over: 30 * time.Second}
	tests := []struct {
		name string
		p    RampPacer
		hit  uint64
		want time.Duration
	}{
		{"first hit at once", up, 0, 0},
		{"second hit at about 1/From", up, 1, 9_985_045}, // t = 2/(100+√(100²+60)): a shade under 10ms, the rate is rising
		{"end of the ramp: (100+1000)/2 × 30 hits", up, 16500, 30 * time.Second},
		{"then 1000/s", up, 16500 + 1000, 31 * time.Second},
		{"ramp down ends at the same count", down, 16500, 30 * time.Second},
		{"ramp down then 100/s", down, 16500 + 50, 30*time.Second + 500*time.Millisecond},
		{"flat ramp is constant", flat, 1234, 12340 * time.Millisecond},
		{"flat ramp past its end", flat, 5000, 50 * time.Second},
		{"saturates instead of overflowing", up, math.MaxUint64, math.MaxInt64},
		{"invalid ramp is 0, not a panic", RampPacer{}, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Due(tt.hit); got != tt.want {
				t.Fatalf("%v.Due(%d) = %v, want %v", tt.p, tt.hit, got, tt.want)
			}
		})
	}
}

// TestRampPacerCounts checks that the schedule follows the integral of the
// rate: N(t) = From·t + (To-From)·t²/(2·Over) during the ramp.
func TestRampPacerCounts(t *testing.T) {
	p := RampPacer{From: 100, To: 1000, Over: 30 * time.Second}
	for _, at := range []float64{0.5, 1, 5, 10, 17.3, 29.9, 30, 31, 45} {
		var want float64
		if at <= 30 {
			want = 100*at + 900*at*at/60
		} else {
			want = 16500 + 1000*(at-30)
		}
		got := countBefore(p, seconds(at))
		if math.Abs(float64(got)-math.Ceil(want)) > 1 {
			t.Errorf("%d requests due before %vs, want ⌈%.2f⌉", got, at, want)
		}
	}
}

// TestRampPacerMonotonic walks every request of short ramps and samples
// long ones, up and down, near zero, across the end of the ramp, and far
// out: Due must never go back, and the gap between requests must be 1/rate.
func TestRampPacerMonotonic(t *testing.T) {
	ramps := []RampPacer{
		{From: 100, To: 1000, Over: 30 * time.Second},
		{From: 1000, To: 100, Over: 30 * time.Second},
		{From: 0.001, To: MaxRate, Over: time.Second},
		{From: MaxRate, To: 0.001, Over: time.Second},
		{From: MaxRate, To: MaxRate / 2, Over: 24 * time.Hour},
		{From: 1, To: 2, Over: time.Duration(math.MaxInt64)},
	}
	for _, p := range ramps {
		t.Run(p.String(), func(t *testing.T) {
			end := (p.From + p.To) * p.Over.Seconds() / 2
			starts := []float64{0, end / 3, end - 1000, end + 1, 1e15, 1e18}
			for _, s := range starts {
				if s < 0 {
					s = 0
				}
				n0 := uint64(s)
				prev := p.Due(n0)
				for n := n0 + 1; n < n0+2000; n++ {
					d := p.Due(n)
					if d < prev {
						t.Fatalf("Due(%d) = %v < Due(%d) = %v", n, d, n-1, prev)
					}
					prev = d
				}
			}
			// The gap between two requests inside the ramp is 1/rate(t).
			mid := uint64(end / 2)
			at := p.Due(mid).Seconds()
			rate := p.From + (p.To-p.From)*at/p.Over.Seconds()
			gap := (p.Due(mid+1) - p.Due(mid)).Seconds()
			if want := 1 / rate; mid > 0 && at < 1e6 && math.Abs(gap-want) > want/100+2e-9 {
				t.Errorf("gap at %.3fs = %v, want 1/%.1f = %v", at, gap, rate, want)
			}
		})
	}
}

func TestRampPacerPace(t *testing.T) {
	good := RampPacer{From: 100, To: 1000, Over: 30 * time.Second}
	tests := []struct {
		name     string
		p        RampPacer
		elapsed  time.Duration
		hits     uint64
		wantWait time.Duration
		wantStop bool
	}{
		{"first hit at once", good, 0, 0, 0, false},
		{"waits for the end of the ramp", good, 29 * time.Second, 16500, time.Second, false},
		{"behind schedule never waits", good, time.Minute, 16500, 0, false},
		{"zero start rate stops", RampPacer{From: 0, To: 10, Over: time.Second}, 0, 0, 0, true},
		{"negative end rate stops", RampPacer{From: 10, To: -1, Over: time.Second}, 0, 0, 0, true},
		{"NaN rate stops", RampPacer{From: math.NaN(), To: 10, Over: time.Second}, 0, 1, 0, true},
		{"infinite rate stops", RampPacer{From: 10, To: math.Inf(1), Over: time.Second}, 0, 1, 0, true},
		{"rate above the maximum stops", RampPacer{From: 10, To: MaxRate * 2, Over: time.Second}, 0, 1, 0, true},
		{"zero duration stops", RampPacer{From: 10, To: 20}, 0, 1, 0, true},
		{"negative duration stops", RampPacer{From: 10, To: 20, Over: -time.Second}, 0, 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, stop := tt.p.Pace(tt.elapsed, tt.hits)
			if wait != tt.wantWait || stop != tt.wantStop {
				t.Fatalf("Pace(%v, %d) = (%v, %v), want (%v, %v)", tt.elapsed, tt.hits, wait, stop, tt.wantWait, tt.wantStop)
			}
		})
	}
}

func TestRampPacerValidate(t *testing.T) {
	err := RampPacer{From: math.NaN(), To: 2e7, Over: 0}.Validate()
	if !errors.Is(err, ErrBadRate) || !errors.Is(err, ErrBadDuration) {
		t.Fatalf("Validate() = %v, want ErrBadRate and ErrBadDuration", err)
	}
	for _, want := range []string{"ramp start rate NaN", "ramp end rate 2e+07 above the maximum 10000000/s", "ramp duration 0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, want it to name %q", err, want)
		}
	}
	if err := (RampPacer{From: MaxRate, To: 0.01, Over: time.Nanosecond}).Validate(); err != nil {
		t.Errorf("Validate() at the bounds = %v, want nil", err)
	}
}

func TestStepPacerDue(t *testing.T) {
	p := mustSteps(t, Step{100, 10 * time.Second}, Step{200, 10 * time.Second}, Step{400, 10 * time.Second})
	frac := mustSteps(t, Step{2.5, time.Second}, Step{10, time.Second})
	tests := []struct {
		name string
		p    *StepPacer
		hit  uint64
		want time.Duration
	}{
		{"first hit at once", p, 0, 0},
		{"inside step 1", p, 999, 9990 * time.Millisecond},
		{"first hit of step 2 is due as it starts", p, 1000, 10 * time.Second},
		{"inside step 2", p, 1001, 10*time.Second + 5*time.Millisecond},
		{"last hit of step 2", p, 2999, 19995 * time.Millisecond},
		{"first hit of step 3", p, 3000, 20 * time.Second},
		{"end of the last step", p, 7000, 30 * time.Second},
		{"last rate holds", p, 7400, 31 * time.Second},
		{"fractional counts", frac, 2, 800 * time.Millisecond},
		{"a step boundary mid-interval", frac, 3, 1050 * time.Millisecond}, // 2.5 hits in step 1, then 0.5 more at 10/s
		{"saturates instead of overflowing", p, math.MaxUint64, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Due(tt.hit); got != tt.want {
				t.Fatalf("%v.Due(%d) = %v, want %v", tt.p, tt.hit, got, tt.want)
			}
		})
	}
	for _, at := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second} {
		want := map[time.Duration]uint64{10 * time.Second: 1000, 20 * time.Second: 3000, 30 * time.Second: 7000}[at]
		if got := countBefore(p, at); got != want {
			t.Errorf("%d requests due before %v, want %d", got, at, want)
		}
	}
}

func TestStepPacerMonotonic(t *testing.T) {
	p := mustSteps(t,
		Step{3, 333 * time.Millisecond}, Step{MaxRate, time.Millisecond}, Step{1e-9, time.Nanosecond},
		Step{0.7, 3 * time.Second}, Step{12345.678, time.Second}, Step{1, time.Hour})
	prev := p.Due(0)
	for n := uint64(1); n < 40_000; n++ {
		d := p.Due(n)
		if d < prev {
			t.Fatalf("Due(%d) = %v < Due(%d) = %v", n, d, n-1, prev)
		}
		prev = d
	}
}

func TestNewStepPacerErrors(t *testing.T) {
	half := time.Duration(math.MaxInt64/2 + 1)
	tests := []struct {
		name  string
		steps []Step
		want  []error
		names []string
	}{
		{"no steps", nil, []error{ErrBadSchedule}, []string{"no steps"}},
		{"bad rate and bad duration in different steps",
			[]Step{{100, time.Second}, {math.NaN(), time.Second}, {100, 0}},
			[]error{ErrBadRate, ErrBadDuration}, []string{"step 2: rate NaN", "step 3: duration 0s"}},
		{"zero and huge rates", []Step{{0, time.Second}, {1e8, time.Second}},
			[]error{ErrBadRate}, []string{"step 1: rate 0", "step 2: rate 1e+08 above the maximum"}},
		{"longer than a Duration", []Step{{1, half}, {1, half}}, []error{ErrBadSchedule}, []string{"longer than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewStepPacer(tt.steps...)
			if p != nil || err == nil {
				t.Fatalf("NewStepPacer = (%v, %v), want an error", p, err)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q does not wrap %v", err, w)
				}
			}
			for _, n := range tt.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %q", err, n)
				}
			}
		})
	}
}

func TestStepPacerZeroValueStops(t *testing.T) {
	for _, p := range []*StepPacer{nil, {}} {
		if wait, stop := p.Pace(0, 0); wait != 0 || !stop {
			t.Errorf("%v.Pace = (%v, %v), want (0, true)", p, wait, stop)
		}
		if d := p.Due(3); d != 0 {
			t.Errorf("%v.Due(3) = %v, want 0", p, d)
		}
		_ = p.String()
		if s := p.Span(); s != 0 {
			t.Errorf("Span() = %v, want 0", s)
		}
	}
}

func TestStepPacerCopiesSteps(t *testing.T) {
	steps := []Step{{100, time.Second}}
	p := mustSteps(t, steps...)
	steps[0].Rate = 1
	if got := p.Due(50); got != 500*time.Millisecond {
		t.Fatalf("Due(50) = %v after the caller changed its slice, want 500ms", got)
	}
	if got, want := p.String(), "steps{100/s for 1s}"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if got := p.Span(); got != time.Second {
		t.Fatalf("Span() = %v, want 1s", got)
	}
}

// TestRunWithShapedPacers runs the real runner with a step and a ramp
// schedule: every request due before Duration is sent, none after, and
// each is stamped with its exact Due.
func TestRunWithShapedPacers(t *testing.T) {
	steps := mustSteps(t, Step{2000, 100 * time.Millisecond}, Step{4000, 100 * time.Millisecond})
	ramp := RampPacer{From: 1000, To: 3000, Over: 200 * time.Millisecond}
	for _, tt := range []struct {
		p interface {
			Pacer
			Scheduler
		}
		want uint64
	}{{steps, 200 + 400}, {ramp, 400}} {
		t.Run(tt.p.(interface{ String() string }).String(), func(t *testing.T) {
			var mu sync.Mutex
			var start time.Time
			offsets := map[uint64]time.Time{}
			d := DriverFunc(func(_ context.Context, r Request) error {
				mu.Lock()
				defer mu.Unlock()
				offsets[r.Seq] = r.Intended
				if r.Seq == 0 {
					start = r.Intended
				}
				return nil
			})
			cfg := Config{Rate: 1, Duration: 200 * time.Millisecond, Workers: 4, Keys: 3}
			res, err := Run(t.Context(), cfg, d, WithPacer(tt.p))
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != tt.want {
				t.Fatalf("sent %d, want %d", res.Sent, tt.want)
			}
			for seq, at := range offsets {
				if got, want := at.Sub(start), tt.p.Due(seq); got != want {
					t.Fatalf("request %d intended at +%v, want Due = %v", seq, got, want)
				}
			}
		})
	}
}
