package eventstore

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by every call on a closed store.
	ErrClosed = errors.New("eventstore: closed")
	// ErrStreamNotFound is returned when reading a stream that has no events.
	ErrStreamNotFound = errors.New("eventstore: stream not found")
	// ErrWrongExpectedVersion is matched by every *ConcurrencyError.
	ErrWrongExpectedVersion = errors.New("eventstore: wrong expected version")
	// ErrSnapshotNotFound is returned when a stream has no snapshot.
	ErrSnapshotNotFound = errors.New("eventstore: snapshot not found")
	// ErrInvalidSnapshot is returned for a snapshot that cannot describe its
	// stream: no stream name, version 0, or a version past the stream's last.
	ErrInvalidSnapshot = errors.New("eventstore: invalid snapshot")
)

// ConcurrencyError reports an optimistic-concurrency conflict: the stream was
// not in the state the appender expected. Actual is the stream's current
// version (0 when it does not exist).
type ConcurrencyError struct {
	Stream   string
	Expected ExpectedVersion
	Actual   uint64
}

func (e *ConcurrencyError) Error() string {
	return fmt.Sprintf("eventstore: wrong expected version on %q: expected %s, actual %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrWrongExpectedVersion) true.
func (e *ConcurrencyError) Is(target error) bool { return target == ErrWrongExpectedVersion }

// String names the expectation for messages.
func (v ExpectedVersion) String() string {
	switch v {
	case Any:
		return "any"
	case NoStream:
		return "no-stream"
	case StreamExists:
		return "stream-exists"
	}
	return fmt.Sprintf("%d", int64(v))
}
