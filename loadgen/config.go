package loadgen

import (
	"errors"
	"fmt"
	"time"
)

// Config is a load run's shape. It is validated as a whole so a user sees
// every problem in a workload at once.
type Config struct {
	// Rate is the target requests per second of the default ConstantPacer.
	Rate float64
	// Duration bounds the schedule: requests due at or after it are not sent.
	Duration time.Duration
	// Workers is the size of the pool that calls Driver.Send; it bounds
	// concurrency, never the schedule.
	Workers int
	// Keys is the number of distinct keys requests are spread over.
	Keys int
	// PayloadSize is the length in bytes of each request's payload.
	PayloadSize int
	// Seed makes key choice and payload content reproducible.
	Seed int64
	// WarmUp excludes requests due before it from Result's latency and
	// schedule-lag statistics: they are sent (and counted in Sent, OK,
	// Errors and Result.WarmUp) while caches, connection pools and
	// consumer groups settle, but their latency would describe the start-up,
	// not the steady state. It must be below Duration; 0 measures everything.
	WarmUp time.Duration
	// Count, when above 0, stops the schedule after that many requests,
	// or at Duration if it comes first (at most MaxCount).
	Count uint64
}

// MaxCount bounds Config.Count: a year at MaxRate.
const MaxCount = uint64(MaxRate) * 365 * 24 * 3600

// MaxWorkers bounds Config.Workers: each worker keeps its own latency and
// schedule-lag histograms (about 272 KiB together), so the pool's memory
// is Workers times that, allocated before the first request.
const MaxWorkers = 1024

// MaxPayloadSize bounds Config.PayloadSize at 1 MiB, Kafka's default
// largest message: each request allocates its payload.
const MaxPayloadSize = 1 << 20

// Validate returns every problem with c joined by errors.Join, each wrapping
// one of the ErrBad* sentinels, or nil.
func (c Config) Validate() error {
	var errs []error
	if err := validRate(c.Rate); err != nil {
		errs = append(errs, err)
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %v: %w", c.Duration, ErrBadDuration))
	}
	if c.Workers < 1 || c.Workers > MaxWorkers {
		errs = append(errs, fmt.Errorf("workers %d (want 1 to %d): %w", c.Workers, MaxWorkers, ErrBadWorkers))
	}
	if c.Keys < 1 || c.Keys > MaxKeys {
		errs = append(errs, fmt.Errorf("keys %d: %w", c.Keys, ErrBadKeys))
	}
	if c.PayloadSize < 0 || c.PayloadSize > MaxPayloadSize {
		errs = append(errs, fmt.Errorf("payload size %d (want 0 to %d): %w", c.PayloadSize, MaxPayloadSize, ErrBadPayloadSize))
	}
	if c.Count > MaxCount {
		errs = append(errs, fmt.Errorf("count %d (max %d): %w", c.Count, MaxCount, ErrBadCount))
	}
	if c.WarmUp < 0 || (c.Duration > 0 && c.WarmUp >= c.Duration) {
		errs = append(errs, fmt.Errorf("warm-up %v with duration %v: %w", c.WarmUp, c.Duration, ErrBadWarmUp))
	}
	return errors.Join(errs...)
}
