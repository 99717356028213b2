package reports

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Metric names Compare reads from a report.
const (
	MetricThroughput = "throughput" // operations completed per second over the load
	MetricE2EP99     = "e2e.p99"    // end-to-end p99 (the first latency after send)
	MetricE2EP50     = "e2e.p50"
	MetricSendP99    = "send.p99"
)

// Limit is how far a metric may move for the worse before it is a
// regression: +10% on a latency, -5% on throughput.
type Limit struct {
	Metric  string
	Percent float64 // signed: the direction that is worse
}

// maxLimitsLen bounds the text ParseLimits reads.
const maxLimitsLen = 1024

// ParseLimits reads "e2e.p99=+10%,throughput=-5%". A latency's limit must
// be positive (slower is worse), throughput's negative.
func ParseLimits(s string) ([]Limit, error) {
	if len(s) > maxLimitsLen {
		return nil, fmt.Errorf("limits are %d bytes long (max %d)", len(s), maxLimitsLen)
	}
	var out []Limit
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.HasSuffix(val, "%") {
			return nil, fmt.Errorf("limit %q: want METRIC=+N%% or METRIC=-N%%, e.g. e2e.p99=+10%%", part)
		}
		p, err := strconv.ParseFloat(strings.TrimSuffix(val, "%"), 64)
		if err != nil || math.IsNaN(p) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("limit %q: %q is not a percentage", part, val)
		}
		switch name {
		case MetricThroughput:
			if p >= 0 {
				return nil, fmt.Errorf("limit %q: throughput regresses downwards: give a negative percentage", part)
			}
		case MetricE2EP99, MetricE2EP50, MetricSendP99:
			if p <= 0 {
				return nil, fmt.Errorf("limit %q: a latency regresses upwards: give a positive percentage", part)
			}
		default:
			return nil, fmt.Errorf("limit %q: unknown metric %q (want %s, %s, %s or %s)", part, name, MetricThroughput, MetricE2EP99, MetricE2EP50, MetricSendP99)
		}
		out = append(out, Limit{Metric: name, Percent: p})
	}
	return out, nil
}

// Delta is one metric of two runs side by side.
type Delta struct {
	Metric    string
	Base, New float64
	Unit      string
	// Change is (New-Base)/Base in percent; NaN when Base is 0 or missing.
	Change float64
	// Noise is the run-to-run spread measured in the two runs' series, in
	// percent of Base: a change within it may be noise. NaN when the
	// series do not tell.
	Noise float64
	// Limit is the metric's limit (NaN: none); Regressed says New is worse
	// than Base by more than it.
	Limit     float64
	Regressed bool
}

// RunComparison is Compare's verdict.
type RunComparison struct {
	Base, New string
	Deltas    []Delta
}

// OK says no metric regressed beyond its limit.
func (c RunComparison) OK() bool {
	for _, d := range c.Deltas {
		if d.Regressed {
			return false
		}
	}
	return true
}

// ErrIncomparable is two reports that do not measure the same things.
var ErrIncomparable = errors.New("reports: runs not comparable")

// Compare holds new against base on the metrics both measured, each
// against its limit. The noise of each metric is read from the runs' own
// series: twice the larger standard deviation of its per-sample values,
// relative to the base. A change beyond its limit is a regression unless
// it is within that noise too — then the runs cannot tell it from chance,
// and the table says so rather than failing the gate on it; where the
// series are too short to measure noise, the limit alone decides.
func Compare(base, next *Run, limits []Limit) (RunComparison, error) {
	c := RunComparison{Base: base.Name, New: next.Name}
	lim := map[string]float64{}
	for _, l := range limits {
		lim[l.Metric] = l.Percent
	}
	for _, m := range []string{MetricThroughput, MetricE2EP50, MetricE2EP99, MetricSendP99} {
		b, unit, okb := metric(base, m)
		n, _, okn := metric(next, m)
		if !okb || !okn {
			if _, asked := lim[m]; asked {
				return c, fmt.Errorf("%w: %s is not in both reports", ErrIncomparable, m)
			}
			continue
		}
		d := Delta{Metric: m, Base: b, New: n, Unit: unit, Change: math.NaN(), Noise: noise(base, next, m, b), Limit: math.NaN()}
		if b != 0 {
			d.Change = (n - b) / b * 100
		}
		if l, ok := lim[m]; ok {
			d.Limit = l
			beyond := !math.IsNaN(d.Change) && ((l > 0 && d.Change > l) || (l < 0 && d.Change < l))
			d.Regressed = beyond && !d.withinNoise()
		}
		c.Deltas = append(c.Deltas, d)
	}
	if len(c.Deltas) == 0 {
		return c, fmt.Errorf("%w: no metric in both", ErrIncomparable)
	}
	return c, nil
}

// metric reads m from r: throughput from the achieved rate, latencies from
// the report's latencies (in milliseconds).
func metric(r *Run, m string) (float64, string, bool) {
	if m == MetricThroughput {
		for _, t := range r.Thresholds {
			if t.Name == "achieved rate" && !math.IsNaN(t.Actual) {
				return t.Actual, "/s", true
			}
		}
		return 0, "", false
	}
	name, stat, _ := strings.Cut(m, ".")
	l, ok := latencyOf(r, name)
	if !ok {
		return 0, "", false
	}
	v := map[string]time.Duration{"p50": l.P50, "p99": l.P99}[stat]
	return float64(v) / float64(time.Millisecond), "ms", true
}

// latencyOf finds the send latency, or the end-to-end one (the first
// after send that is not the schedule lag).
func latencyOf(r *Run, name string) (Latency, bool) {
	for i, l := range r.Latencies {
		switch {
		case name == "send" && strings.HasPrefix(l.Name, "send"):
			return l, l.Count > 0
		case name == "e2e" && i > 0 && !strings.HasPrefix(l.Name, "schedule") && !strings.HasPrefix(l.Name, "send"):
			return l, l.Count > 0
		}
	}
	return Latency{}, false
}

// noise is twice the larger per-sample standard deviation of m in the two
// runs' series, in percent of base (NaN when neither series has it).
func noise(a, b *Run, m string, base float64) float64 {
	if base == 0 || m == MetricSendP99 {
		return math.NaN()
	}
	sd := math.Max(spread(a.Series, m), spread(b.Series, m))
	if math.IsNaN(sd) {
		return math.NaN()
	}
	return 2 * sd / base * 100
}

func spread(series []Sample, m string) float64 {
	var xs []float64
	var prev time.Duration
	for _, s := range series {
		span := s.At - prev
		prev = s.At
		if s.Done == 0 || span <= 0 {
			continue
		}
		switch m {
		case MetricThroughput:
			xs = append(xs, float64(s.Done)/span.Seconds())
		case MetricE2EP99:
			xs = append(xs, float64(s.E2EP99)/float64(time.Millisecond))
		case MetricE2EP50:
			xs = append(xs, float64(s.E2EP50)/float64(time.Millisecond))
		}
	}
	if len(xs) < 5 { // too few samples to tell a spread from the load's edges
		return math.NaN()
	}
	sort.Float64s(xs)
	xs = xs[1 : len(xs)-1] // the first and last samples straddle the load's edges
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - mean) * (x - mean)
	}
	return math.Sqrt(v / float64(len(xs)))
}

// WriteComparison prints c as a table, one metric a line, the verdict
// last; md writes it as a Markdown table instead.
func WriteComparison(w io.Writer, c RunComparison, md bool) error {
	ew := &errWriter{w: w}
	if md {
		ew.printf("| metric | base | new | change | noise | limit | verdict |\n|---|---:|---:|---:|---:|---:|---|\n")
	} else {
		ew.printf("%-10s %12s %12s %9s %9s %8s  %s\n", "metric", "base", "new", "change", "noise", "limit", "verdict")
	}
	for _, d := range c.Deltas {
		cells := []string{Clean(d.Metric), num(d.Base, d.Unit), num(d.New, d.Unit), pct(d.Change), "±" + pct(d.Noise), pct(d.Limit), verdict(d)}
		if md {
			ew.printf("| %s |\n", strings.Join(cells, " | "))
		} else {
			ew.printf("%-10s %12s %12s %9s %9s %8s  %s\n", cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6])
		}
	}
	return ew.err
}

// withinNoise says the change is no bigger than the runs' own spread.
func (d Delta) withinNoise() bool {
	return !math.IsNaN(d.Noise) && !math.IsNaN(d.Change) && math.Abs(d.Change) <= d.Noise
}

func verdict(d Delta) string {
	beyond := !math.IsNaN(d.Limit) && !math.IsNaN(d.Change) && ((d.Limit > 0 && d.Change > d.Limit) || (d.Limit < 0 && d.Change < d.Limit))
	switch {
	case d.Regressed:
		return "REGRESSED"
	case beyond:
		return "beyond the limit, within the runs' own noise: not a regression they can show"
	case d.withinNoise():
		return "ok (within noise)"
	}
	return "ok"
}

func num(v float64, unit string) string { return strconv.FormatFloat(v, 'g', 4, 64) + unit }

func pct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", v)
}
