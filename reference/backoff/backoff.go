// Package backoff gives reconnect and retry loops exponential delays with
// jitter. Clients that lost the same broker at the same moment would
// otherwise retry in lockstep and hit it together when it comes back; a
// random half of each delay spreads them out ("equal jitter": the delay is
// at least half the exponential step, so a loop never spins).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the delay sequence of one retry loop. It is not safe for
// concurrent use; each loop owns its own.
type Backoff struct {
	min, max time.Duration
	step     time.Duration
	rand     func(n int64) int64
}

// New returns a Backoff whose steps double from minDelay up to maxDelay.
// A minDelay <= 0 is taken as 1 ms, a maxDelay below minDelay as minDelay.
func New(minDelay, maxDelay time.Duration) *Backoff {
	minDelay = max(minDelay, time.Millisecond)
	maxDelay = max(maxDelay, minDelay)
	return &Backoff{min: minDelay, max: maxDelay, step: minDelay, rand: rand.Int64N}
}

// Next returns the delay before the next attempt: half the current step
// plus a random part of the other half; the step then doubles, up to the
// maximum.
func (b *Backoff) Next() time.Duration {
	half := b.step / 2
	d := half + time.Duration(b.rand(int64(b.step-half)+1))
	b.step = min(2*b.step, b.max)
	return d
}

// Reset starts the sequence again, after a success.
func (b *Backoff) Reset() { b.step = b.min }

// Sleep waits Next() or until ctx ends; it reports whether the wait ran
// its course.
func (b *Backoff) Sleep(ctx context.Context) bool {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
