package eventstore

import "errors"

// Errors for appends that are malformed or that clash with stored event IDs.
// They sit beside errors.go (which holds the original contract) so that the
// contract file stays unchanged; every backend returns them, wrapped with
// detail, and eventstoretest checks them with errors.Is.
var (
	// ErrInvalidAppend is returned for an append that can never succeed: an
	// empty stream name, no events, an event without an ID, the same ID twice
	// in one call, or an unknown negative expectation.
	ErrInvalidAppend = errors.New("eventstore: invalid append")
	// ErrIdempotencyConflict is returned when some, but not all, of an
	// append's event IDs are already stored, or they are stored in another
	// stream or out of order: the append is neither new nor a clean retry,
	// and writing it would break event-ID uniqueness.
	ErrIdempotencyConflict = errors.New("eventstore: event IDs conflict with stored events")
)
