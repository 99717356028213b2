package loadgen

import "errors"

// Sentinels for invalid configuration; Config.Validate wraps one of these per
// problem and joins them, so callers can test each with errors.Is.
var (
	// ErrBadRate is a rate that is not a positive finite number.
	ErrBadRate = errors.New("loadgen: rate must be a positive finite number per second")
	// ErrBadDuration is a run duration that is not positive.
	ErrBadDuration = errors.New("loadgen: duration must be positive")
	// ErrBadWorkers is a worker pool smaller than one.
	ErrBadWorkers = errors.New("loadgen: workers must be at least 1")
	// ErrBadKeys is a key space smaller than one key.
	ErrBadKeys = errors.New("loadgen: keys must be at least 1")
	// ErrBadPayloadSize is a negative payload size.
	ErrBadPayloadSize = errors.New("loadgen: payload size must not be negative")
	// ErrNilDriver is a Run without a driver to send through.
	ErrNilDriver = errors.New("loadgen: driver is nil")
)
