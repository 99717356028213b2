package eventstore

import (
	"fmt"

	"github.com/edkit-dev/edkit/reference/event"
)

// ValidateAppend rejects an append that can never succeed — an empty stream
// name, no events, an event without an ID, the same ID twice in one call,
// an unknown negative expectation — so every backend refuses the same
// inputs the same way, before any I/O. The error wraps ErrInvalidAppend.
func ValidateAppend(stream string, expected ExpectedVersion, events []event.Envelope) error {
	if stream == "" {
		return fmt.Errorf("append: empty stream name: %w", ErrInvalidAppend)
	}
	if len(events) == 0 {
		return fmt.Errorf("append %s: no events: %w", stream, ErrInvalidAppend)
	}
	if expected < StreamExists {
		return fmt.Errorf("append %s: unknown expectation %d: %w", stream, int64(expected), ErrInvalidAppend)
	}
	seen := make(map[string]struct{}, len(events))
	for i, e := range events {
		if e.ID == "" {
			return fmt.Errorf("append %s: event %d has no ID: %w", stream, i, ErrInvalidAppend)
		}
		if _, dup := seen[e.ID]; dup {
			return fmt.Errorf("append %s: ID %q twice: %w", stream, e.ID, ErrInvalidAppend)
		}
		seen[e.ID] = struct{}{}
	}
	return nil
}

// CheckExpected tests an expectation against a stream's current version (0
// when the stream does not exist) and returns a *ConcurrencyError when it
// does not hold. Exact(0) means the same as NoStream: a stream with no
// events does not exist.
func CheckExpected(stream string, expected ExpectedVersion, current uint64) error {
	return StreamState{Last: current}.Check(stream, expected)
}
