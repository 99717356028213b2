package brokerbench

import (
	"errors"
	"fmt"
	"time"
)

// Mode is what a workload does, after the OpenMessaging Benchmark's three
// shapes: producers alone, consumers draining a backlog, or both at once.
type Mode int

// The modes.
const (
	// ProduceConsume runs producers for Duration while consumers read
	// everything they publish, then waits for the consumers to drain.
	ProduceConsume Mode = iota
	// ProduceOnly runs producers for Duration; nobody consumes.
	ProduceOnly
	// ConsumeOnly pre-produces Backlog messages while the consumers are
	// paused (joined, but reading nothing), then times the consumers
	// draining it: OMB's consumerBacklogSizeGB, counted in messages.
	ConsumeOnly
)

var modeNames = map[Mode]string{ProduceConsume: "produce-consume", ProduceOnly: "produce", ConsumeOnly: "consume"}

// String is the mode's CLI name: produce, consume or produce-consume.
func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads a mode's CLI name.
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if s == name {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: mode %q (want produce, consume or produce-consume)", ErrBadWorkload, s)
}

// produces and consumes say which sides a mode runs; ConsumeOnly produces
// its backlog.
func (m Mode) consumes() bool { return m != ProduceOnly }

// Bounds of a Workload: generous for a benchmark on one machine, small
// enough that a typo cannot ask for a million goroutines or a
// terabyte-sized backlog.
const (
	// MaxMessageSize is 1 MB: under every broker's default message limit
	// (Kafka's message.max.bytes and kafka-go's BatchBytes, NATS's
	// max_payload are 1 MiB including headers), so a valid size is one
	// every broker takes.
	MaxMessageSize = 1_000_000
	// MinMessageSize holds the send timestamp every payload carries.
	MinMessageSize = 8
	MaxProducers   = 1024
	MaxConsumers   = 1024
	MaxPartitions  = 1024
	MaxBatch       = 10_000
	MaxRate        = 10_000_000
	MaxDuration    = 24 * time.Hour
	MaxBacklog     = 100_000_000
)

// Workload is one benchmark run's shape, the OpenMessaging Benchmark's
// workload file for a single topic: partitionsPerTopic is Partitions,
// messageSize MessageSize, producersPerTopic Producers,
// consumerPerSubscription Consumers (one subscription), producerRate Rate,
// testDurationMinutes Duration, consumerBacklogSizeGB Backlog (in
// messages). Batch has no OMB field: OMB batches in the driver's client
// settings, edkit in the publish call.
type Workload struct {
	Mode Mode
	// Producers and Consumers each get their own client (connection).
	Producers int
	// Consumers share one consumer group; none in ProduceOnly.
	Consumers int
	// MessageSize is the payload size in bytes.
	MessageSize int
	// Partitions of the Kafka topic. NATS streams, Redis streams and
	// RabbitMQ queues have none: the topic is one stream or queue there.
	Partitions int
	// Batch is how many messages one publish call carries; the call
	// returns once the broker acknowledged all of them.
	Batch int
	// Rate is the total target in messages per second, shared evenly by
	// the producers, each sending on a fixed schedule (open loop:
	// latencies count from the scheduled time, so a stall is not hidden).
	// 0 is as fast as possible: each producer sends its next batch when
	// the last one is acknowledged (closed loop).
	Rate float64
	// Duration is how long the producers run (not in ConsumeOnly).
	Duration time.Duration
	// Backlog is, in ConsumeOnly, how many messages are produced before
	// the consumers start; 0 in the other modes. The consumers join
	// first and then pause, as OMB's do, so no group rebalance falls
	// into the drain; what their clients prefetch meanwhile is part of
	// the drain.
	Backlog int
}

// FieldError is one invalid Workload field: its name, its value and what
// it should be.
type FieldError struct {
	Field string
	Value any
	Want  string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("brokerbench: %s %v: want %s", e.Field, e.Value, e.Want)
}

// Is makes every FieldError match ErrBadWorkload.
func (e *FieldError) Is(target error) bool { return target == ErrBadWorkload }

// Validate reports every invalid field at once, each as a *FieldError
// (errors.Is ErrBadWorkload).
func (w Workload) Validate() error {
	var errs []error
	for _, p := range w.Problems() {
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

// Problems lists the invalid fields, in field order, for front ends that
// name their own flags; Validate joins them.
func (w Workload) Problems() []*FieldError {
	var errs []*FieldError
	bad := func(field string, value any, want string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Want: want})
	}
	intIn := func(field string, v, lo, hi int) {
		if v < lo || v > hi {
			bad(field, v, fmt.Sprintf("%d to %d", lo, hi))
		}
	}
	if _, ok := modeNames[w.Mode]; !ok {
		bad("Mode", w.Mode, "ProduceConsume, ProduceOnly or ConsumeOnly")
	}
	intIn("Producers", w.Producers, 1, MaxProducers)
	if w.Mode.consumes() {
		intIn("Consumers", w.Consumers, 1, MaxConsumers)
	} else if w.Consumers != 0 {
		bad("Consumers", w.Consumers, "0 in produce-only mode")
	}
	intIn("MessageSize", w.MessageSize, MinMessageSize, MaxMessageSize)
	intIn("Partitions", w.Partitions, 1, MaxPartitions)
	intIn("Batch", w.Batch, 1, MaxBatch)
	if !(w.Rate >= 0 && w.Rate <= MaxRate) { // also refuses NaN
		bad("Rate", w.Rate, fmt.Sprintf("0 (as fast as possible) to %d messages/s", MaxRate))
	}
	if w.Mode == ConsumeOnly {
		intIn("Backlog", w.Backlog, 1, MaxBacklog)
		if w.Duration != 0 {
			bad("Duration", w.Duration, "0 in consume-only mode (the backlog sets the run's length)")
		}
		return errs
	}
	if w.Backlog != 0 {
		bad("Backlog", w.Backlog, "0 outside consume-only mode")
	}
	if w.Duration <= 0 || w.Duration > MaxDuration {
		bad("Duration", w.Duration, fmt.Sprintf("more than 0 and at most %v", MaxDuration))
	}
	return errs
}
