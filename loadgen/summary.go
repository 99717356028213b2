package loadgen

import (
	"fmt"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: microsecond resolution from 1µs to 60s with 3
// significant figures, enough to tell 1.00ms from 1.01ms and to hold a
// minute-long stall without clipping.
const (
	histMin     = 1
	histMax     = int64(60 * time.Second / time.Microsecond)
	histSigFigs = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMin, histMax, histSigFigs)
}

// record adds d to h in microseconds, clamping into the trackable range so
// that an outlier is counted (as the maximum) rather than dropped.
func record(h *hdrhistogram.Histogram, d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	_ = h.RecordValue(us) // in range by construction
}

// Summary is the shape of a latency distribution as reports show it.
type Summary struct {
	Count                               uint64
	Min, Mean, P50, P90, P99, P999, Max time.Duration
}

// Summarize reads a Summary from an HDR histogram recorded in microseconds.
func Summarize(h *hdrhistogram.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Summary{
		Count: uint64(h.TotalCount()),
		Min:   us(h.Min()),
		Mean:  time.Duration(h.Mean() * float64(time.Microsecond)),
		P50:   us(h.ValueAtQuantile(50)),
		P90:   us(h.ValueAtQuantile(90)),
		P99:   us(h.ValueAtQuantile(99)),
		P999:  us(h.ValueAtQuantile(99.9)),
		Max:   us(h.Max()),
	}
}

// String renders the summary on one line for logs.
func (s Summary) String() string {
	return fmt.Sprintf("n=%d min=%v mean=%v p50=%v p90=%v p99=%v p99.9=%v max=%v",
		s.Count, s.Min, s.Mean, s.P50, s.P90, s.P99, s.P999, s.Max)
}
