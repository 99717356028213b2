package saga

import (
	"errors"
	"fmt"
)

var (
	// ErrIllegalTransition marks a transition the definition does not allow:
	// a broken saga invariant (steps out of order, compensation not in reverse).
	ErrIllegalTransition = errors.New("saga: illegal transition")
	// ErrFinished marks a transition on a saga that already ended.
	ErrFinished = errors.New("saga: already finished")
)

// LateError is a message for a saga that has ended, under RejectLate.
type LateError struct {
	Saga   string
	Status Status
	Cause  string // the late message's ID
}

func (e *LateError) Error() string {
	return fmt.Sprintf("saga: %s already %s: late message %s rejected", e.Saga, e.Status, e.Cause)
}

// Is makes errors.Is(err, ErrFinished) true.
func (e *LateError) Is(target error) bool { return target == ErrFinished }
