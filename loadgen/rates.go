package loadgen

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// MaxRate bounds the rate of a ramp, a step or a parsed constant rate, per
// second: a hundred times the 100k/s DESIGN.md asks one generator to hold,
// so that a typo (an extra zero or two) is caught rather than run flat out.
const MaxRate = 10_000_000

// validShapeRate is validRate with MaxRate's upper bound. what names the
// rate in the error ("ramp start rate", "rate").
func validShapeRate(what string, r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
		return fmt.Errorf("%s %v: %w", what, r, ErrBadRate)
	}
	if r > MaxRate {
		return fmt.Errorf("%s %v above the maximum %d/s: %w", what, r, MaxRate, ErrBadRate)
	}
	return nil
}

// seconds converts t seconds to a Duration rounded to the nanosecond,
// saturating at the largest Duration instead of overflowing, so that a
// schedule extrapolated far ahead stays monotonic.
func seconds(t float64) time.Duration {
	ns := math.Round(t * float64(time.Second))
	switch {
	case ns <= 0:
		return 0
	case !(ns < math.MaxInt64): // also NaN: "never"
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// addSat is a + b for non-negative durations, saturating at the largest one.
func addSat(a, b time.Duration) time.Duration {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// RampPacer changes the rate linearly from From to To over Over, then holds
// To; To may be below From (a ramp down). Requests follow the integral of
// the rate, so a ramp from 100/s to 1000/s over 30 s schedules
// (100+1000)/2 × 30 = 16500 requests in those 30 s, and a ramp starting at a
// low rate finds the rate at which a system starts to fall behind.
type RampPacer struct {
	// From and To are requests per second, each positive, finite and at most
	// MaxRate.
	From, To float64
	// Over is how long the ramp takes; it must be positive.
	Over time.Duration
}

var (
	_ Pacer     = RampPacer{}
	_ Scheduler = RampPacer{}
)

// Validate returns every problem with p joined by errors.Join, each wrapping
// ErrBadRate or ErrBadDuration, or nil.
func (p RampPacer) Validate() error {
	var errs []error
	if err := validShapeRate("ramp start rate", p.From); err != nil {
		errs = append(errs, err)
	}
	if err := validShapeRate("ramp end rate", p.To); err != nil {
		errs = append(errs, err)
	}
	if p.Over <= 0 {
		errs = append(errs, fmt.Errorf("ramp duration %v: %w", p.Over, ErrBadDuration))
	}
	return errors.Join(errs...)
}

func (p RampPacer) ok() bool {
	okRate := func(r float64) bool { return r > 0 && r <= MaxRate } // false for NaN
	return okRate(p.From) && okRate(p.To) && p.Over > 0
}

// Due is the offset at which request hit is due: the time t at which the
// ramp's integral, From·t + (To-From)·t²/(2·Over), reaches hit, and after
// Over the constant rate To. The root is computed as 2n/(From + √(From² +
// 2(To-From)n/Over)), which, unlike the textbook form, neither divides by
// To-From (zero for a flat ramp) nor cancels for a ramp down. An invalid p
// returns 0.
func (p RampPacer) Due(hit uint64) time.Duration {
	if !p.ok() {
		return 0
	}
	n, a, b, d := float64(hit), p.From, p.To, p.Over.Seconds()
	rampHits := (a + b) * d / 2
	if n <= rampHits {
		disc := a*a + 2*(b-a)*n/d // >= To² > 0 when n <= rampHits, up to rounding
		// Rounding must not carry a request past the end of the ramp, where
		// the constant-rate formula takes over: that would break monotonicity.
		return min(seconds(2*n/(a+math.Sqrt(math.Max(disc, 0)))), p.Over)
	}
	return addSat(p.Over, seconds((n-rampHits)/b))
}

// Pace returns the wait until request number hits is due, 0 when it is
// already due or overdue, and stop for an invalid p (so a bad pacer never
// spins or divides by zero).
func (p RampPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if !p.ok() {
		return 0, true
	}
	if due := p.Due(hits); due > elapsed {
		return due - elapsed, false
	}
	return 0, false
}

// Span is how long the ramp lasts before holding To: a CLI can default a
// run's Duration to it.
func (p RampPacer) Span() time.Duration { return p.Over }

// String describes the pacer for logs and reports.
func (p RampPacer) String() string {
	return fmt.Sprintf("ramp{%g/s→%g/s over %v}", p.From, p.To, p.Over)
}

// Step is one segment of a StepPacer: Rate requests per second for For.
type Step struct {
	// Rate is requests per second: positive, finite, at most MaxRate.
	Rate float64
	// For is how long the step lasts; it must be positive.
	For time.Duration
}

// Validate returns every problem with s joined by errors.Join, each wrapping
// ErrBadRate or ErrBadDuration, or nil.
func (s Step) Validate() error {
	var errs []error
	if err := validShapeRate("rate", s.Rate); err != nil {
		errs = append(errs, err)
	}
	if s.For <= 0 {
		errs = append(errs, fmt.Errorf("duration %v: %w", s.For, ErrBadDuration))
	}
	return errors.Join(errs...)
}

// StepPacer runs a list of constant-rate steps one after another and then
// holds the last step's rate, as a ramp holds its end rate (Config.Duration
// ends the run). Steps find a system's saturation point with a plateau at
// each rate long enough for its latency to settle.
type StepPacer struct {
	steps []Step
	// startHit[i] is how many requests the steps before i schedule (a real
	// number: a step of 2.5/s for 1 s schedules 2.5); startAt[i] is when
	// step i begins. Due is a binary search over them.
	startHit []float64
	startAt  []time.Duration
}

var (
	_ Pacer     = (*StepPacer)(nil)
	_ Scheduler = (*StepPacer)(nil)
)

// NewStepPacer returns a StepPacer over steps, or every problem with them
// joined: each step's wraps ErrBadRate or ErrBadDuration and names the step
// (from 1); no steps, or steps longer in total than a Duration can hold,
// wraps ErrBadSchedule.
func NewStepPacer(steps ...Step) (*StepPacer, error) {
	var errs []error
	if len(steps) == 0 {
		errs = append(errs, fmt.Errorf("no steps: %w", ErrBadSchedule))
	}
	p := &StepPacer{
		steps:    append([]Step(nil), steps...),
		startHit: make([]float64, len(steps)),
		startAt:  make([]time.Duration, len(steps)),
	}
	var hits float64
	var at time.Duration
	overflow := false
	for i, s := range steps {
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("step %d: %w", i+1, err))
			continue
		}
		p.startHit[i], p.startAt[i] = hits, at
		hits += s.Rate * s.For.Seconds()
		if s.For > math.MaxInt64-at {
			overflow = true
		}
		at = addSat(at, s.For)
	}
	if overflow {
		errs = append(errs, fmt.Errorf("steps last longer than %v in total: %w", time.Duration(math.MaxInt64), ErrBadSchedule))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Due is the offset at which request hit is due. It is exact at step
// boundaries (a request due as a step begins is due at that step's start,
// to the nanosecond) and monotonic in hit. A StepPacer with no steps (the
// zero value) returns 0.
func (p *StepPacer) Due(hit uint64) time.Duration {
	if p == nil || len(p.steps) == 0 {
		return 0
	}
	n := float64(hit)
	// The last step starting at or before n; startHit[0] is 0, so i >= 0.
	i := sort.Search(len(p.startHit), func(i int) bool { return p.startHit[i] > n }) - 1
	off := seconds((n - p.startHit[i]) / p.steps[i].Rate)
	if last := i == len(p.steps)-1; !last && off > p.steps[i].For {
		off = p.steps[i].For // rounding must not carry a request past its step
	}
	return addSat(p.startAt[i], off)
}

// Pace returns the wait until request number hits is due, 0 when it is
// already due or overdue, and stop for a StepPacer with no steps.
func (p *StepPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if p == nil || len(p.steps) == 0 {
		return 0, true
	}
	if due := p.Due(hits); due > elapsed {
		return due - elapsed, false
	}
	return 0, false
}

// Span is the total length of the steps, after which the last rate holds:
// a CLI can default a run's Duration to it.
func (p *StepPacer) Span() time.Duration {
	if p == nil || len(p.steps) == 0 {
		return 0
	}
	last := len(p.steps) - 1
	return p.startAt[last] + p.steps[last].For
}

// String describes the pacer for logs and reports.
func (p *StepPacer) String() string {
	if p == nil {
		return "steps{}"
	}
	parts := make([]string, len(p.steps))
	for i, s := range p.steps {
		parts[i] = fmt.Sprintf("%g/s for %v", s.Rate, s.For)
	}
	return "steps{" + strings.Join(parts, ", ") + "}"
}
