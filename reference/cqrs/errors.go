package cqrs

import (
	"errors"
	"fmt"
)

var (
	// ErrNoCommandID is returned by Handle for an empty command ID: without
	// one, a redelivered command cannot be recognised.
	ErrNoCommandID = errors.New("cqrs: empty command ID")
	// ErrEmptyStream is returned for an empty stream name.
	ErrEmptyStream = errors.New("cqrs: empty stream name")
	// ErrRetriesExhausted is matched by every *RetriesExhaustedError.
	ErrRetriesExhausted = errors.New("cqrs: concurrency retries exhausted")
)

// RetriesExhaustedError reports a command that lost the optimistic-concurrency
// race on every attempt. It unwraps to the last *eventstore.ConcurrencyError.
type RetriesExhaustedError struct {
	Stream    string
	CommandID string
	// Attempts is how many times the command was decided and appended.
	Attempts int
	// Err is the last attempt's error.
	Err error
}

func (e *RetriesExhaustedError) Error() string {
	return fmt.Sprintf("cqrs: command %q on %q: %d attempts lost the concurrency race: %v", e.CommandID, e.Stream, e.Attempts, e.Err)
}

// Is makes errors.Is(err, ErrRetriesExhausted) true.
func (e *RetriesExhaustedError) Is(target error) bool { return target == ErrRetriesExhausted }

// Unwrap exposes the last conflict.
func (e *RetriesExhaustedError) Unwrap() error { return e.Err }

// HiddenEventsError reports a stream whose metadata (max count or
// truncate-before) hides events the fold needs: folding what is left would
// build a wrong state silently, so the load fails instead. Snapshots taken
// often enough make such streams loadable.
type HiddenEventsError struct {
	Stream string
	// Want is the version the fold needed next; First is the first
	// version the store returned.
	Want, First uint64
}

func (e *HiddenEventsError) Error() string {
	return fmt.Sprintf("cqrs: load %s: versions %d..%d are hidden by the stream's metadata and no snapshot covers them", e.Stream, e.Want, e.First-1)
}
