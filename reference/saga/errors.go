package saga

import "errors"

var (
	// ErrIllegalTransition marks a transition the definition does not allow:
	// a broken saga invariant (steps out of order, compensation not in reverse).
	ErrIllegalTransition = errors.New("saga: illegal transition")
	// ErrFinished marks a transition on a saga that already ended.
	ErrFinished = errors.New("saga: already finished")
)
