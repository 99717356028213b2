package reports

import (
	"encoding/json"
	"io"
	"math"
	"time"

	"github.com/edkit-dev/edkit/harness/check"
)

// Schema names the JSON report format; it changes when a field changes
// meaning, so baseline tools can refuse a report they do not understand.
const Schema = "edkit.report/v1"

// jsonRun fixes the field order and names of report.json; durations are
// integer nanoseconds in *_ns fields.
type jsonRun struct {
	Schema     string          `json:"schema"`
	Name       string          `json:"name"`
	OK         bool            `json:"ok"`
	Command    string          `json:"command"`
	StartedAt  time.Time       `json:"started_at"`
	DurationNs int64           `json:"duration_ns"`
	Seed       int64           `json:"seed"`
	Config     []jsonKV        `json:"config"`
	Counts     []jsonCount     `json:"counts"`
	Latencies  []jsonLatency   `json:"latencies"`
	Invariants []check.Result  `json:"invariants"`
	Thresholds []jsonThreshold `json:"thresholds"`
	Series     []jsonSample    `json:"series,omitempty"`
	Faults     []jsonFault     `json:"faults,omitempty"`
}

// jsonSample is one point of the series; latencies in nanoseconds.
type jsonSample struct {
	AtNs     int64  `json:"at_ns"`
	Sent     uint64 `json:"sent"`
	OK       uint64 `json:"ok"`
	Errors   uint64 `json:"errors"`
	Done     uint64 `json:"done"`
	E2EP50Ns int64  `json:"e2e_p50_ns"`
	E2EP99Ns int64  `json:"e2e_p99_ns"`
	E2EMaxNs int64  `json:"e2e_max_ns"`
	InFlight int    `json:"in_flight"`
}

type jsonFault struct {
	Fault   string `json:"fault"`
	StartNs int64  `json:"start_ns"`
	EndNs   int64  `json:"end_ns"`
	Error   string `json:"error,omitempty"`
}

type jsonKV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type jsonCount struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

type jsonLatency struct {
	Name   string `json:"name"`
	Count  uint64 `json:"count"`
	MinNs  int64  `json:"min_ns"`
	MeanNs int64  `json:"mean_ns"`
	P50Ns  int64  `json:"p50_ns"`
	P90Ns  int64  `json:"p90_ns"`
	P99Ns  int64  `json:"p99_ns"`
	P999Ns int64  `json:"p999_ns"`
	MaxNs  int64  `json:"max_ns"`
}

// jsonThreshold carries Limit and Actual as pointers because JSON has no NaN
// or infinity: such a value is written as null.
type jsonThreshold struct {
	Name   string   `json:"name"`
	Cmp    string   `json:"cmp"`
	Limit  *float64 `json:"limit"`
	Actual *float64 `json:"actual"`
	Unit   string   `json:"unit,omitempty"`
	OK     bool     `json:"ok"`
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// WriteJSON writes r, redacted, as indented JSON with a stable field order.
// Empty lists are written as [] rather than null.
func WriteJSON(w io.Writer, r *Run) error {
	if r == nil {
		return ErrNilRun
	}
	r = redacted(r)
	out := jsonRun{
		Schema: Schema, Name: r.Name, OK: r.OK(), Command: r.Command, StartedAt: r.StartedAt,
		DurationNs: int64(r.Duration), Seed: r.Seed,
		Config:     make([]jsonKV, 0, len(r.Config)),
		Counts:     make([]jsonCount, 0, len(r.Counts)),
		Latencies:  make([]jsonLatency, 0, len(r.Latencies)),
		Invariants: append(make([]check.Result, 0, len(r.Invariants)), r.Invariants...),
		Thresholds: make([]jsonThreshold, 0, len(r.Thresholds)),
	}
	for _, kv := range r.Config {
		out.Config = append(out.Config, jsonKV(kv))
	}
	for _, c := range r.Counts {
		out.Counts = append(out.Counts, jsonCount(c))
	}
	for _, l := range r.Latencies {
		out.Latencies = append(out.Latencies, jsonLatency{
			Name: l.Name, Count: l.Count, MinNs: int64(l.Min), MeanNs: int64(l.Mean), P50Ns: int64(l.P50),
			P90Ns: int64(l.P90), P99Ns: int64(l.P99), P999Ns: int64(l.P999), MaxNs: int64(l.Max),
		})
	}
	for _, t := range r.Thresholds {
		out.Thresholds = append(out.Thresholds, jsonThreshold{
			Name: t.Name, Cmp: string(t.Cmp), Limit: finite(t.Limit), Actual: finite(t.Actual), Unit: t.Unit, OK: t.OK,
		})
	}
	out.Series, out.Faults = jsonSeries(r.Series), jsonFaults(r.Faults)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func jsonSeries(series []Sample) []jsonSample {
	out := make([]jsonSample, 0, len(series))
	for _, s := range series {
		out = append(out, jsonSample{AtNs: int64(s.At), Sent: s.Sent, OK: s.OK, Errors: s.Errors, Done: s.Done,
			E2EP50Ns: int64(s.E2EP50), E2EP99Ns: int64(s.E2EP99), E2EMaxNs: int64(s.E2EMax), InFlight: s.InFlight})
	}
	return out
}

func jsonFaults(faults []FaultSpan) []jsonFault {
	out := make([]jsonFault, 0, len(faults))
	for _, f := range faults {
		out = append(out, jsonFault{Fault: f.Fault, StartNs: int64(f.Start), EndNs: int64(f.End), Error: f.Error})
	}
	return out
}
