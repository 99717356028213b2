package kurrentstore

import "errors"

var (
	// ErrInvalidOption is returned by New for an option that can never work,
	// such as a stream prefix that names system streams.
	ErrInvalidOption = errors.New("kurrentstore: invalid option")
	// ErrServer wraps a failure reported by EventStoreDB/KurrentDB that has no
	// eventstore equivalent (unavailable, access denied, not leader...), so
	// callers can tell the server's failures from contract violations.
	ErrServer = errors.New("kurrentstore: server error")
)
