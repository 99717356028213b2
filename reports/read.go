package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// MaxReport bounds a report.json ReadJSON accepts: a report lists at most a
// few dozen anomalies per invariant, so anything near this is not one.
const MaxReport = 64 << 20

// ReadJSON reads a report written by WriteJSON, for tools that re-judge or
// compare runs. name labels errors (the file's path); a malformed report is
// an error naming name:line:column. Thresholds come back with the OK
// recorded; a null limit or actual (NaN or infinite when written) reads as
// NaN.
func ReadJSON(r io.Reader, name string) (*Run, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxReport+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > MaxReport {
		return nil, fmt.Errorf("%s: larger than %d MiB: not a report", name, MaxReport>>20)
	}
	var in jsonRun
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("%s: %w", position(name, b, err), err)
	}
	if in.Schema != Schema {
		return nil, fmt.Errorf("%s: schema %q: want %q", name, in.Schema, Schema)
	}
	out := &Run{
		Name: in.Name, Command: in.Command, StartedAt: in.StartedAt, Duration: time.Duration(in.DurationNs),
		Seed: in.Seed, Invariants: in.Invariants,
	}
	for _, kv := range in.Config {
		out.Config = append(out.Config, KV(kv))
	}
	for _, c := range in.Counts {
		out.Counts = append(out.Counts, Count(c))
	}
	for _, l := range in.Latencies {
		out.Latencies = append(out.Latencies, Latency{Name: l.Name, Count: l.Count, Min: time.Duration(l.MinNs),
			Mean: time.Duration(l.MeanNs), P50: time.Duration(l.P50Ns), P90: time.Duration(l.P90Ns),
			P99: time.Duration(l.P99Ns), P999: time.Duration(l.P999Ns), Max: time.Duration(l.MaxNs)})
	}
	for _, t := range in.Thresholds {
		if t.Cmp != string(AtMostCmp) && t.Cmp != string(AtLeastCmp) {
			return nil, fmt.Errorf("%s: threshold %q: comparison %q: want <= or >=", name, t.Name, t.Cmp)
		}
		out.Thresholds = append(out.Thresholds, Threshold{Name: t.Name, Cmp: Comparison(t.Cmp),
			Limit: orNaN(t.Limit), Actual: orNaN(t.Actual), Unit: t.Unit, OK: t.OK})
	}
	if len(in.Series) > MaxSamples {
		return nil, fmt.Errorf("%s: %d samples in the series: want at most %d", name, len(in.Series), MaxSamples)
	}
	for _, s := range in.Series {
		out.Series = append(out.Series, Sample{At: time.Duration(s.AtNs), Sent: s.Sent, OK: s.OK, Errors: s.Errors,
			Done: s.Done, E2EP50: time.Duration(s.E2EP50Ns), E2EP99: time.Duration(s.E2EP99Ns),
			E2EMax: time.Duration(s.E2EMaxNs), InFlight: s.InFlight})
	}
	for _, f := range in.Faults {
		out.Faults = append(out.Faults, FaultSpan{Fault: f.Fault, Start: time.Duration(f.StartNs), End: time.Duration(f.EndNs), Error: f.Error})
	}
	return out, nil
}

func orNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

// JSONPosition renders name:line:column for an error from decoding the
// JSON document b, or name alone when the error carries no offset.
func JSONPosition(name string, b []byte, err error) string { return position(name, b, err) }

// position renders name:line:column for a JSON decoding error.
func position(name string, b []byte, err error) string {
	off := int64(-1)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // the offending byte, which the decoder has read
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(b)) {
		return name
	}
	line, col := 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line, col = line+1, 1
			continue
		}
		col++
	}
	return fmt.Sprintf("%s:%d:%d", name, line, col)
}
