package loadgen

import "errors"

// Sentinels for invalid configuration; Config.Validate wraps one of these per
// problem and joins them, so callers can test each with errors.Is.
var (
	// ErrBadRate is a rate that is not a positive finite number.
	ErrBadRate = errors.New("loadgen: rate must be a positive finite number per second")
	// ErrBadDuration is a run duration that is not positive.
	ErrBadDuration = errors.New("loadgen: duration must be positive")
	// ErrBadWorkers is a worker pool smaller than one or larger than
	// MaxWorkers.
	ErrBadWorkers = errors.New("loadgen: workers out of range")
	// ErrBadKeys is a key space smaller than one key or larger than MaxKeys.
	ErrBadKeys = errors.New("loadgen: keys must be from 1 to 10000000")
	// ErrBadPayloadSize is a negative payload size or one above
	// MaxPayloadSize.
	ErrBadPayloadSize = errors.New("loadgen: payload size out of range")
	// ErrBadWarmUp is a warm-up that is negative or leaves nothing to measure.
	ErrBadWarmUp = errors.New("loadgen: warm-up must be from 0 to less than the duration")
	// ErrBadCount is a request count above MaxCount.
	ErrBadCount = errors.New("loadgen: count out of range")
	// ErrBadSchedule is a rate schedule with no steps or too long to fit a
	// time.Duration.
	ErrBadSchedule = errors.New("loadgen: invalid rate schedule")
	// ErrBadKeyDist is a key distribution whose parameters cannot pick keys.
	ErrBadKeyDist = errors.New("loadgen: invalid key distribution")
	// ErrBadSpec is a key or rate spelling (ParseKeys, ParseRate) that does
	// not parse.
	ErrBadSpec = errors.New("loadgen: malformed spec")
	// ErrNilDriver is a Run without a driver to send through.
	ErrNilDriver = errors.New("loadgen: driver is nil")
)
