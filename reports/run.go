package reports

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/edkit-dev/edkit/harness/check"
)

// Run is everything a report says about one run. Slices keep the order the
// caller gave, so output is stable and reads in the order that matters.
type Run struct {
	// Name identifies the run ("kafka-smoke").
	Name string
	// Command is the command line that produced it, for reproduction.
	Command   string
	StartedAt time.Time
	Duration  time.Duration
	// Seed replays the run's random choices (keys, fault schedule).
	Seed int64
	// Config lists the settings that shaped the run; values that look like
	// URLs with credentials are redacted on output.
	Config []KV
	// Counts are named totals: sent, acked, delivered, dead-lettered.
	Counts []Count
	// Latencies are named distributions: send, end-to-end.
	Latencies []Latency
	// Invariants are the checkers' verdicts.
	Invariants []check.Result
	// Thresholds are the pass/fail limits on measured figures.
	Thresholds []Threshold
	// Series is the run over time, one sample per interval (bounded:
	// MaxSamples).
	Series []Sample
	// Faults are the faults injected during the run, on its timeline.
	Faults []FaultSpan
}

// KV is one configuration setting.
type KV struct {
	Key, Value string
}

// Count is one named total.
type Count struct {
	Name  string
	Value int64
}

// Latency is one named latency distribution; it mirrors loadgen.Summary
// plus a name, so the caller converts field by field.
type Latency struct {
	Name                                string
	Count                               uint64
	Min, Mean, P50, P90, P99, P999, Max time.Duration
}

// Comparison says which side of its limit a threshold's actual value must
// stay on.
type Comparison string

const (
	// AtMostCmp passes when Actual <= Limit (latencies, error counts).
	AtMostCmp Comparison = "<="
	// AtLeastCmp passes when Actual >= Limit (throughput).
	AtLeastCmp Comparison = ">="
)

// Threshold is a measured figure held against a limit, e.g. "p99 send
// latency <= 5 ms". Values are float64 in the stated Unit so rates, counts
// and durations share one shape; build one with AtMost or AtLeast, which set
// OK consistently.
type Threshold struct {
	Name   string
	Cmp    Comparison
	Limit  float64
	Actual float64
	Unit   string
	OK     bool
}

// AtMost is a threshold that passes when actual <= limit. A NaN actual
// (nothing measured) fails.
func AtMost(name string, actual, limit float64, unit string) Threshold {
	return Threshold{Name: name, Cmp: AtMostCmp, Limit: limit, Actual: actual, Unit: unit,
		OK: !math.IsNaN(actual) && actual <= limit}
}

// AtLeast is a threshold that passes when actual >= limit. A NaN actual
// (nothing measured) fails.
func AtLeast(name string, actual, limit float64, unit string) Threshold {
	return Threshold{Name: name, Cmp: AtLeastCmp, Limit: limit, Actual: actual, Unit: unit,
		OK: !math.IsNaN(actual) && actual >= limit}
}

// String renders the threshold as "name: actual unit <= limit unit".
func (t Threshold) String() string {
	return fmt.Sprintf("%s: %s %s %s", t.Name, fmtNum(t.Actual, t.Unit), t.Cmp, fmtNum(t.Limit, t.Unit))
}

func fmtNum(v float64, unit string) string {
	// Two decimals are plenty for a verdict line; a measured rate would
	// otherwise print all seventeen digits.
	if !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) < 1e15 {
		v = math.Round(v*100) / 100
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if unit == "" {
		return s
	}
	return s + " " + unit
}

// OK is the run's verdict: every invariant valid (permitted anomalies count
// as valid) and every threshold met. It decides the exit code.
func (r *Run) OK() bool {
	for _, inv := range r.Invariants {
		if !inv.Valid {
			return false
		}
	}
	for _, t := range r.Thresholds {
		if !t.OK {
			return false
		}
	}
	return true
}

// status is an invariant's verdict word in summaries and JUnit output.
func status(res check.Result) string {
	switch {
	case !res.Valid:
		return "FAIL"
	case res.Permitted || len(res.Anomalies) > 0:
		return "PERMITTED"
	default:
		return "PASS"
	}
}
