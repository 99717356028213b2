package embedded

import "errors"

var (
	// ErrUnsupported is returned by Start for a kind this provider cannot
	// run (only kafka and nats are embedded).
	ErrUnsupported = errors.New("embedded: kind not supported")
	// ErrBadOption reports an invalid ComponentSpec option.
	ErrBadOption = errors.New("embedded: bad option")
	// ErrNotRunning is returned by Pause, Resume, Stop and Kill on a
	// component that is not running (stopped, killed or closed).
	ErrNotRunning = errors.New("embedded: component is not running")
	// ErrBrokerBinary reports that the edkit-broker binary for child mode
	// could neither be found nor built.
	ErrBrokerBinary = errors.New("embedded: no edkit-broker binary")
)
