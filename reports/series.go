package reports

import "time"

// Sample is one interval of a run's time series: what happened between the
// previous sample and At.
type Sample struct {
	// At is the end of the interval, since the load started.
	At time.Duration
	// Sent, OK and Errors count the load's operations in the interval.
	Sent, OK, Errors uint64
	// Done counts operations the system completed in the interval (their
	// end-to-end latency was measured), and E2E* are those latencies.
	Done                   uint64
	E2EP50, E2EP99, E2EMax time.Duration
	// InFlight is how many operations were started and not yet settled at
	// At: the run's lag.
	InFlight int
}

// FaultSpan is one fault on the run's timeline: injected at Start, healed
// at End (since the load started); Error says what failed, if anything.
type FaultSpan struct {
	Fault      string
	Start, End time.Duration
	Error      string
}

// MaxSamples bounds a run's series: past it, neighbouring samples are
// merged in pairs (the resolution halves), so an hour-long run's report is
// no larger than a two-minute one's at twice the interval.
const MaxSamples = 2048

// AddSample appends s to series, merging pairs when it is full; it
// returns the series.
func AddSample(series []Sample, s Sample) []Sample {
	if len(series) < MaxSamples {
		return append(series, s)
	}
	half := series[:0]
	for i := 0; i+1 < len(series); i += 2 {
		half = append(half, merge(series[i], series[i+1]))
	}
	return append(half, s)
}

// merge joins two neighbouring samples: counts add up, the latest lag
// stands, and the latencies are the worse of the two (a merged p99 is a
// bound, not a percentile: the report says samples were merged by their
// spacing).
func merge(a, b Sample) Sample {
	return Sample{
		At: b.At, Sent: a.Sent + b.Sent, OK: a.OK + b.OK, Errors: a.Errors + b.Errors, Done: a.Done + b.Done,
		E2EP50: max(a.E2EP50, b.E2EP50), E2EP99: max(a.E2EP99, b.E2EP99), E2EMax: max(a.E2EMax, b.E2EMax),
		InFlight: b.InFlight,
	}
}
