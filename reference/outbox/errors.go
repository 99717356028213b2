package outbox

import (
	"errors"
	"fmt"
)

var (
	// ErrRunning is returned by Run when the relay is already running: two
	// loops over one checkpoint would interleave their saves.
	ErrRunning = errors.New("outbox: relay already running")
	// ErrCorruptCheckpoint is returned when a stored checkpoint cannot be
	// parsed. The relay does not guess a position: starting from 0 would
	// republish everything, starting anywhere else could skip events.
	ErrCorruptCheckpoint = errors.New("outbox: corrupt checkpoint")
)

// PublishError reports a batch the relay could not publish: events at
// global positions From..To, after Attempts attempts. Everything before
// From was confirmed (and Relayed reports it); nothing from From on was
// checkpointed, so the next run publishes the batch again.
type PublishError struct {
	From, To uint64
	Attempts int
	Err      error
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("outbox: publish positions %d..%d failed after %d attempt(s): %v", e.From, e.To, e.Attempts, e.Err)
}

func (e *PublishError) Unwrap() error { return e.Err }
