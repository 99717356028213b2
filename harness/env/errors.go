package env

import "errors"

var (
	// ErrClosed is returned by Close after the first call, and by calls on
	// a closed Environment.
	ErrClosed = errors.New("env: closed")
	// ErrStart wraps a component's failure to start; the CLI maps it to
	// exit code 3 (the environment could not be started).
	ErrStart = errors.New("env: component failed to start")
)
