package process

import "errors"

var (
	// ErrNotInstalled says a server's binary is missing; Supports wraps it
	// with the program and the Debian package that provides it.
	ErrNotInstalled = errors.New("process: server not installed")
	// ErrUnsupportedKind is returned for kinds this provider cannot run
	// (Kafka has no Debian package).
	ErrUnsupportedKind = errors.New("process: kind not supported")
	// ErrNotRunning is returned by Stop, Kill, Pause and Resume when the
	// server is already stopped or killed.
	ErrNotRunning = errors.New("process: server not running")
	// ErrExited is returned when a server exits before it became ready;
	// the error carries the tail of its log.
	ErrExited = errors.New("process: server exited")
)
