package bus

import (
	"context"
	"errors"
	"time"
)

// Clock is the slice of harness/clock.Clock that retry needs. It is declared
// here because the reference tree must not import the harness; any
// harness/clock value satisfies it, so a scenario can drive backoff on a
// virtual clock.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx's error then.
	Sleep(ctx context.Context, d time.Duration) error
}

// WallClock is the real clock: the default Clock wherever none is given,
// exported so other reference packages (the outbox relay) share it.
var WallClock Clock = wallClock{}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
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

type attemptKey struct{}

// WithAttempt returns ctx carrying the delivery attempt number (from 1).
// Retry sets it; a broker adapter that counts redeliveries may set it too.
func WithAttempt(ctx context.Context, attempt int) context.Context {
	return context.WithValue(ctx, attemptKey{}, attempt)
}

// AttemptFrom returns the attempt number carried by ctx, or 1 when none is:
// a handler that runs without retry is on its first attempt.
func AttemptFrom(ctx context.Context) int {
	if a, ok := ctx.Value(attemptKey{}).(int); ok && a > 0 {
		return a
	}
	return 1
}

// ExponentialBackoff returns a backoff that doubles from base, capped at
// ceiling: base, 2·base, 4·base, ... It is a convenience for Retry.
func ExponentialBackoff(base, ceiling time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < ceiling; i++ {
			d *= 2
		}
		if d > ceiling {
			d = ceiling
		}
		return d
	}
}

// Retry retries a failing handler in-process, up to maxAttempts attempts in
// all, sleeping backoff(n) on clk after failed attempt n. Retrying here rather
// than by broker redelivery keeps the message's place in its key's order.
//
// A *PermanentError is returned at once. When every attempt fails Retry
// returns a *RetriesExhaustedError carrying the count. If ctx ends during a
// backoff the last handler error is returned. The attempt number is in the
// handler's ctx (AttemptFrom). maxAttempts < 1 means 1; a nil backoff means
// no wait; a nil clk means the wall clock.
func Retry(maxAttempts int, backoff func(attempt int) time.Duration, clk Clock) Middleware {
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	if clk == nil {
		clk = wallClock{}
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) error {
			var err error
			for attempt := 1; ; attempt++ {
				err = next(WithAttempt(ctx, attempt), m)
				if err == nil {
					return nil
				}
				var perm *PermanentError
				if errors.As(err, &perm) {
					return &stoppedError{attempts: attempt, err: err}
				}
				if attempt >= maxAttempts {
					return &RetriesExhaustedError{Attempts: attempt, Err: err}
				}
				var d time.Duration
				if backoff != nil {
					d = backoff(attempt)
				}
				if serr := clk.Sleep(ctx, d); serr != nil {
					return &stoppedError{attempts: attempt, err: err}
				}
			}
		}
	}
}
