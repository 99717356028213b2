package bus

import "errors"

var (
	// ErrClosed is returned by calls on a closed publisher or subscriber.
	ErrClosed = errors.New("bus: closed")
	// ErrAlreadySettled is returned when a delivery is acked or nacked twice.
	ErrAlreadySettled = errors.New("bus: delivery already settled")
	// ErrOutcomeUnknown marks a publish whose outcome the broker did not
	// confirm either way: the message may or may not have been accepted.
	ErrOutcomeUnknown = errors.New("bus: publish outcome unknown")
)

// PermanentError marks a handler error that retrying cannot fix (a payload
// that cannot be decoded, say): retry middleware gives up at once and the
// message goes to the dead-letter topic with this reason.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so retry middleware does not retry it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}
