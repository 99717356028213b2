package service

import (
	"errors"
	"fmt"
)

var (
	// ErrBadConfig is wrapped by every problem Config.Validate reports.
	ErrBadConfig = errors.New("service: bad config")
	// ErrRunning is returned by a second call of Run.
	ErrRunning = errors.New("service: already run")
)

// FieldError is one problem with a Config field, so a front end can name
// its own flag for it.
type FieldError struct {
	Field   string // the Config field, e.g. "DropEvery"
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s %s", ErrBadConfig, e.Field, e.Problem)
}

// Unwrap makes a FieldError match ErrBadConfig.
func (e *FieldError) Unwrap() error { return ErrBadConfig }
