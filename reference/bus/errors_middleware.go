package bus

import (
	"errors"
	"fmt"
)

// Errors of the consume loop and middleware. They live beside errors.go (a
// contract file) so the contract stays untouched.
var (
	// ErrSubscriptionEnded is returned by Consume when the subscription's
	// channel closed while its ctx was still live: the subscriber closed or
	// lost its broker, and the caller must decide whether to resubscribe.
	ErrSubscriptionEnded = errors.New("bus: subscription ended")
	// ErrInFlight is returned by an Inbox (and by Dedup) when another
	// delivery of the same message is being handled right now. The delivery
	// should be retried later, not acked: the other one may still fail.
	ErrInFlight = errors.New("bus: message already in flight")
)

// RetriesExhaustedError is returned by Retry when every attempt failed. It
// carries the attempt count so DeadLetter can record it (invariant 16: each
// DLQ entry keeps its attempts).
type RetriesExhaustedError struct {
	Attempts int
	Err      error
}

func (e *RetriesExhaustedError) Error() string {
	return fmt.Sprintf("retries exhausted after %d attempts: %v", e.Attempts, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *RetriesExhaustedError) Unwrap() error { return e.Err }

// stoppedError records how many attempts Retry made before a permanent error
// (or a cancelled backoff) stopped it, without changing the error's text or
// identity: errors.Is/As see through it.
type stoppedError struct {
	attempts int
	err      error
}

func (e *stoppedError) Error() string { return e.err.Error() }
func (e *stoppedError) Unwrap() error { return e.err }

// Attempts reports how many attempts produced err: the count Retry recorded
// in the chain, or 1 when no retry middleware was involved.
func Attempts(err error) int {
	var re *RetriesExhaustedError
	if errors.As(err, &re) {
		return re.Attempts
	}
	var se *stoppedError
	if errors.As(err, &se) {
		return se.attempts
	}
	return 1
}
