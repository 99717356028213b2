// Package clock is the one source of time for logic a scenario must control:
// saga deadlines, retry backoff, delayed messages, fault schedules. Real is
// the wall clock; Virtual only moves when a test advances it.
package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells time and waits.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx's error then.
	Sleep(ctx context.Context, d time.Duration) error
	// After fires once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

var _ Clock = Real{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Sleep waits for d or ctx.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Virtual is a clock that stands still until Advance or Set moves it. Waiters
// fire in deadline order as time passes them.
type Virtual struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

var _ Clock = (*Virtual)(nil)

// NewVirtual returns a virtual clock reading start.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start} }

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// After fires when the virtual time reaches now+d.
func (v *Virtual) After(d time.Duration) <-chan time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := make(chan time.Time, 1)
	at := v.now.Add(d)
	if d <= 0 {
		c <- v.now
		return c
	}
	v.waiters = append(v.waiters, waiter{at: at, c: c})
	return c
}

// Sleep waits until the virtual time has advanced by d, or ctx is done.
func (v *Virtual) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-v.After(d):
		return nil
	}
}

// Advance moves time forward by d, firing every waiter it passes.
func (v *Virtual) Advance(d time.Duration) { v.Set(v.Now().Add(d)) }

// Set moves time to t (never backwards; an earlier t is ignored).
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	if t.Before(v.now) {
		v.mu.Unlock()
		return
	}
	v.now = t
	sort.SliceStable(v.waiters, func(i, j int) bool { return v.waiters[i].at.Before(v.waiters[j].at) })
	var fire []waiter
	keep := v.waiters[:0]
	for _, w := range v.waiters {
		if !w.at.After(t) {
			fire = append(fire, w)
		} else {
			keep = append(keep, w)
		}
	}
	v.waiters = keep
	v.mu.Unlock()
	for _, w := range fire {
		w.c <- t
	}
}

// Waiters reports how many timers are pending, so a test can wait until the
// code under test is blocked on the clock before advancing it.
func (v *Virtual) Waiters() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.waiters)
}
