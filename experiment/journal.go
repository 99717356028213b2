package experiment

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edkit-dev/edkit/reports"
)

// Journal statuses, as Chaos Toolkit names them.
const (
	StatusCompleted = "completed" // the hypothesis held throughout, every invariant held
	StatusFailed    = "failed"    // something did not hold: Problems says what
	StatusAborted   = "aborted"   // the run did not finish (cancelled, or it could not start)
)

// Journal is what an experiment did and found, written as experiment.json
// beside the run's report.
type Journal struct {
	Title     string        `json:"title"`
	File      string        `json:"file"`
	Status    string        `json:"status"`
	Seed      int64         `json:"seed"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
	// Replay is the command that runs the experiment again, the same way.
	Replay string `json:"replay,omitempty"`
	// Before is the hypothesis over the samples before the first fault.
	Before []Probe `json:"before"`
	// Faults are the method's faults with what they did and how the system
	// recovered.
	Faults []FaultOutcome `json:"faults"`
	// After is the hypothesis over the samples after the last recovery.
	After []Probe `json:"after"`
	// Invariants are the run's verdicts, by name.
	Invariants []Verdict `json:"invariants"`
	// Problems say why the experiment failed, one line each.
	Problems []string `json:"problems,omitempty"`
}

// Probe is one probe of the hypothesis over a stretch of the run: its
// limit, the worst sample and whether every sample met it.
type Probe struct {
	Probe string `json:"probe"`
	Limit string `json:"limit"`
	Worst string `json:"worst"`
	// At is the end of the worst sample, since the load started.
	At time.Duration `json:"at_ns"`
	OK bool          `json:"ok"`
}

// FaultOutcome is one fault of the method: when it was injected and
// healed, the worst of each probe while it was held, and the recovery.
type FaultOutcome struct {
	Fault    string        `json:"fault"`
	Injected time.Duration `json:"injected_ns"`
	Healed   time.Duration `json:"healed_ns"`
	Error    string        `json:"error,omitempty"`
	During   []Probe       `json:"during"`
	// Recovered says the hypothesis held again after the heal, for two
	// samples in a row; RecoveredAfter is from the heal to the start of
	// the first of them.
	Recovered      bool          `json:"recovered"`
	RecoveredAfter time.Duration `json:"recovered_after_ns"`
	// LagPeak is the most in flight from the injection to the recovery;
	// DrainedAfter is from the heal until in flight was back to what it
	// was before the first fault.
	LagPeak      int           `json:"lag_peak"`
	Drained      bool          `json:"drained"`
	DrainedAfter time.Duration `json:"drained_after_ns"`
}

// Verdict is one invariant's outcome in the run.
type Verdict struct {
	Invariant string `json:"invariant"`
	OK        bool   `json:"ok"`
	Found     int    `json:"found,omitempty"`
	First     string `json:"first,omitempty"`
	// Anomalies are the first few anomalies on the fault timeline.
	Anomalies []Placed `json:"anomalies,omitempty"`
}

// Placed is an anomaly on the fault timeline: while a fault was held, or
// after which fault (and how long after its heal), or before any.
type Placed struct {
	Summary string        `json:"summary"`
	At      time.Duration `json:"at_ns"`
	// Fault is the fault held at At, or the last one healed before it
	// ("" before the first); While says which.
	Fault string `json:"fault,omitempty"`
	While bool   `json:"while,omitempty"`
	// SinceHeal is At minus that fault's heal, when it was healed.
	SinceHeal time.Duration `json:"since_heal_ns,omitempty"`
}

// maxPlaced is how many anomalies per invariant the journal places.
const maxPlaced = 5

// place puts an anomaly at at on the timeline of faults.
func place(summary string, at time.Duration, faults []reports.FaultSpan) Placed {
	p := Placed{Summary: summary, At: at}
	for _, f := range faults {
		switch {
		case at >= f.Start && at <= f.End:
			p.Fault, p.While, p.SinceHeal = f.Fault, true, 0
		case at > f.End:
			p.Fault, p.While, p.SinceHeal = f.Fault, false, at-f.End
		}
	}
	return p
}

// JournalFile is the journal's name in the run directory.
const JournalFile = "experiment.json"

// Write writes j as dir/experiment.json.
func (j *Journal) Write(dir string) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, JournalFile), append(b, '\n'), 0o644) //nolint:gosec // a report file, readable on purpose
}

// OK says the experiment completed.
func (j *Journal) OK() bool { return j.Status == StatusCompleted }

func (j *Journal) fail(format string, args ...any) {
	j.Status = StatusFailed
	j.Problems = append(j.Problems, fmt.Sprintf(format, args...))
}

// verdicts copies the run's invariant verdicts and thresholds into j.
func (j *Journal) verdicts(rep *reports.Run) {
	for _, r := range rep.Invariants {
		v := Verdict{Invariant: r.Invariant, OK: r.Valid, Found: max(r.Found, len(r.Anomalies))}
		if len(r.Anomalies) > 0 {
			v.First = r.Anomalies[0].Summary
		}
		for _, a := range r.Anomalies[:min(len(r.Anomalies), maxPlaced)] {
			v.Anomalies = append(v.Anomalies, place(a.Summary, a.At, rep.Faults))
		}
		j.Invariants = append(j.Invariants, v)
		if !r.Valid {
			j.fail("invariant %s broken: %s", r.Invariant, v.First)
		}
	}
	for _, t := range rep.Thresholds {
		if !t.OK {
			j.fail("threshold %s not met: %s", t.Name, t.String())
		}
	}
}
