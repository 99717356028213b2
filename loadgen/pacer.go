package loadgen

import (
	"fmt"
	"math"
	"time"
)

// Pacer decides when the next request is due. Given the time elapsed since
// the run began and the number of requests already scheduled (hits), it
// returns how long to wait before scheduling the next one, or stop when no
// more should be scheduled. Model: vegeta lib/pacer.go.
type Pacer interface {
	Pace(elapsed time.Duration, hits uint64) (wait time.Duration, stop bool)
}

// Scheduler is an optional capability of a Pacer that knows the exact due
// time of every request. The runner uses it to stamp a request's Intended
// time even when the scheduler is running behind (wait == 0), so that the
// backlog is measured from when each request should have been sent.
type Scheduler interface {
	// Due is the offset from the start of the run at which request number
	// hit (from 0) is due.
	Due(hit uint64) time.Duration
}

// ConstantPacer schedules requests at a fixed Rate per second: request n
// (from 0) is due at n/Rate seconds.
type ConstantPacer struct {
	// Rate is requests per second; it must be positive and finite.
	Rate float64
}

var (
	_ Pacer     = ConstantPacer{}
	_ Scheduler = ConstantPacer{}
)

// Validate reports a Rate that cannot pace anything.
func (p ConstantPacer) Validate() error {
	return validRate(p.Rate)
}

func validRate(r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
		return fmt.Errorf("rate %v: %w", r, ErrBadRate)
	}
	return nil
}

// Due is the offset at which request hit is due. It saturates at the
// largest Duration rather than overflowing, so it never goes back.
func (p ConstantPacer) Due(hit uint64) time.Duration {
	ns := float64(hit) * float64(time.Second) / p.Rate
	if !(ns < math.MaxInt64) {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// Pace returns the wait until request number hits is due, 0 when it is
// already due or overdue, and stop for an invalid Rate (so a bad pacer never
// spins or divides by zero).
func (p ConstantPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if p.Validate() != nil {
		return 0, true
	}
	due := p.Due(hits)
	if due <= elapsed {
		return 0, false
	}
	return due - elapsed, false
}

// String describes the pacer for logs and reports.
func (p ConstantPacer) String() string {
	return fmt.Sprintf("constant{rate=%g/s}", p.Rate)
}

// Expected is how many requests a Scheduler schedules before d: what a run
// of that length should send, the target its achieved rate is held to. For
// a pacer that is not a Scheduler it is 0.
func Expected(p Pacer, d time.Duration) uint64 {
	sched, ok := p.(Scheduler)
	if !ok || d <= 0 {
		return 0
	}
	// Due is monotonic in the hit number: find the first hit due at or
	// after d by doubling, then bisecting.
	hi := uint64(1)
	for sched.Due(hi-1) < d {
		if hi > MaxCount {
			return MaxCount
		}
		hi *= 2
	}
	lo := hi / 2
	for lo < hi {
		mid := lo + (hi-lo)/2
		if sched.Due(mid) < d {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
