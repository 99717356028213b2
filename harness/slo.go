package harness

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/reports"
)

// SLO is a set of latency objectives a run must meet, as a capacity search
// holds each probe to them: "e2e.p99<50ms,send.p99<=5ms".
type SLO []Objective

// Objective is one latency bound: Stat of Latency below (or at most) Limit.
type Objective struct {
	// Latency is the report latency it reads: "send", "e2e" (the system's
	// visible latency) or "settled".
	Latency string
	// Stat is "p50", "p90", "p99", "p999", "mean" or "max".
	Stat    string
	OrEqual bool
	Limit   time.Duration
}

// String renders the objective the way ParseSLO reads it.
func (o Objective) String() string {
	cmp := "<"
	if o.OrEqual {
		cmp = "<="
	}
	return o.Latency + "." + o.Stat + cmp + o.Limit.String()
}

// String renders the SLO the way ParseSLO reads it.
func (s SLO) String() string {
	parts := make([]string, len(s))
	for i, o := range s {
		parts[i] = o.String()
	}
	return strings.Join(parts, ",")
}

// maxSLOLen bounds the text ParseSLO reads.
const maxSLOLen = 1024

var sloStats = []string{"p50", "p90", "p99", "p999", "mean", "max"}

// ParseSLO reads a comma-separated list of objectives, each
// LATENCY.STAT<LIMIT or LATENCY.STAT<=LIMIT: e2e.p99<50ms. An error names
// the objective that is wrong and what was expected.
func ParseSLO(s string) (SLO, error) {
	if len(s) > maxSLOLen {
		return nil, fmt.Errorf("SLO is %d bytes long (max %d)", len(s), maxSLOLen)
	}
	var out SLO
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, errors.New(`empty objective (want e.g. "e2e.p99<50ms")`)
		}
		o, err := parseObjective(part)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func parseObjective(s string) (Objective, error) {
	i := strings.IndexByte(s, '<')
	if i < 0 {
		return Objective{}, fmt.Errorf("objective %q: want LATENCY.STAT<LIMIT, e.g. e2e.p99<50ms", s)
	}
	name, limit := s[:i], s[i+1:]
	var o Objective
	if strings.HasPrefix(limit, "=") {
		o.OrEqual, limit = true, limit[1:]
	}
	lat, stat, ok := strings.Cut(name, ".")
	if !ok {
		return Objective{}, fmt.Errorf("objective %q: %q wants LATENCY.STAT, e.g. e2e.p99", s, name)
	}
	switch lat {
	case "send", "e2e", "settled":
	default:
		return Objective{}, fmt.Errorf("objective %q: latency %q: want send, e2e or settled", s, lat)
	}
	if !contains(sloStats, stat) {
		return Objective{}, fmt.Errorf("objective %q: statistic %q: want one of %s", s, stat, strings.Join(sloStats, ", "))
	}
	d, err := time.ParseDuration(strings.TrimSpace(limit))
	if err != nil || d <= 0 {
		return Objective{}, fmt.Errorf("objective %q: limit %q: want a positive duration, e.g. 50ms", s, limit)
	}
	o.Latency, o.Stat, o.Limit = lat, stat, d
	return o, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func stat(l loadgen.Summary, s string) time.Duration {
	switch s {
	case "p50":
		return l.P50
	case "p90":
		return l.P90
	case "p99":
		return l.P99
	case "p999":
		return l.P999
	case "mean":
		return l.Mean
	}
	return l.Max
}

// thresholds holds the run's latencies (by the SLO's names) to the SLO:
// one threshold per objective; a latency the run did not measure fails.
func (s SLO) thresholds(lat map[string]loadgen.Summary) []reports.Threshold {
	out := make([]reports.Threshold, 0, len(s))
	for _, o := range s {
		limit := float64(o.Limit) / float64(time.Millisecond)
		l, ok := lat[o.Latency]
		if !ok || l.Count == 0 {
			out = append(out, reports.AtMost("SLO "+o.String()+" (not measured)", math.NaN(), limit, "ms"))
			continue
		}
		actual := float64(stat(l, o.Stat)) / float64(time.Millisecond)
		th := reports.AtMost("SLO "+o.String(), actual, limit, "ms")
		th.OK = th.OK && (o.OrEqual || actual < limit)
		out = append(out, th)
	}
	return out
}
