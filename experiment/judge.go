package experiment

import (
	"fmt"
	"strconv"
	"time"

	"github.com/edkit-dev/edkit/reports"
)

// window is one sample with the length of its interval.
type window struct {
	reports.Sample
	span time.Duration
}

func (w window) start() time.Duration { return w.At - w.span }

func (w window) throughput() float64 {
	if w.span <= 0 {
		return 0
	}
	return float64(w.Done) / w.span.Seconds()
}

// windows are the run's samples within the load (after it the load's
// throughput falls to nothing by design), each with its interval.
func windows(series []reports.Sample, load time.Duration) []window {
	var out []window
	var prev time.Duration
	for _, s := range series {
		span := s.At - prev
		prev = s.At
		if s.At > load+span/2 {
			break
		}
		out = append(out, window{Sample: s, span: span})
	}
	return out
}

// holds says which probes of h fail on w ("" when all hold).
func (h Hypothesis) holds(w window) string {
	switch {
	case h.MinThroughput > 0 && w.throughput() < h.MinThroughput:
		return fmt.Sprintf("throughput %.4g/s", w.throughput())
	case h.MaxE2EP99 > 0 && w.E2EP99 > h.MaxE2EP99:
		return "e2e p99 " + w.E2EP99.String()
	case h.MaxInFlight > 0 && w.InFlight > h.MaxInFlight:
		return "in flight " + strconv.Itoa(w.InFlight)
	}
	return ""
}

// probes are h's probes over ws: the worst sample of each.
func (h Hypothesis) probes(ws []window) []Probe {
	var out []Probe
	if h.MinThroughput > 0 {
		p := Probe{Probe: "throughput", Limit: fmt.Sprintf(">= %.4g/s", h.MinThroughput), OK: true}
		worst := -1.0
		for _, w := range ws {
			if t := w.throughput(); worst < 0 || t < worst {
				worst, p.At = t, w.At
			}
		}
		p.Worst, p.OK = fmt.Sprintf("%.4g/s", worst), worst >= h.MinThroughput
		out = append(out, p)
	}
	if h.MaxE2EP99 > 0 {
		p := Probe{Probe: "e2e p99", Limit: "<= " + h.MaxE2EP99.String()}
		var worst time.Duration
		for _, w := range ws {
			if w.E2EP99 >= worst {
				worst, p.At = w.E2EP99, w.At
			}
		}
		p.Worst, p.OK = worst.String(), worst <= h.MaxE2EP99
		out = append(out, p)
	}
	if h.MaxInFlight > 0 {
		p := Probe{Probe: "in flight", Limit: "<= " + strconv.Itoa(h.MaxInFlight)}
		worst := 0
		for _, w := range ws {
			if w.InFlight >= worst {
				worst, p.At = w.InFlight, w.At
			}
		}
		p.Worst, p.OK = strconv.Itoa(worst), worst <= h.MaxInFlight
		out = append(out, p)
	}
	return out
}

// judge reads the experiment's outcome from the run's report.
func judge(x *Experiment, rep *reports.Run, load time.Duration) *Journal {
	j := &Journal{Title: x.Title, File: x.File, Status: StatusCompleted, Seed: rep.Seed}
	ws := windows(rep.Series, load)
	if len(rep.Faults) == 0 {
		j.fail("no fault was injected: the method ran after the load, or not at all")
	}
	before := between(ws, 1, firstStart(rep.Faults, load))
	if len(before) == 0 {
		j.fail("no sample before the first fault to check the steady state on: start it later")
	}
	j.Before = x.Hypothesis.probes(before)
	for _, p := range j.Before {
		if !p.OK {
			j.fail("the steady state did not hold before the first fault: %s %s, want %s", p.Probe, p.Worst, p.Limit)
		}
	}
	baseline := baseInFlight(before, x.Hypothesis)
	end := load // the last sample of the load may end a little after it
	if len(ws) > 0 {
		end = max(end, ws[len(ws)-1].At)
	}
	after := time.Duration(0)
	for i, f := range rep.Faults {
		next := end
		if i+1 < len(rep.Faults) {
			next = rep.Faults[i+1].Start
		}
		o := x.outcome(f, ws, next, baseline)
		j.Faults = append(j.Faults, o)
		after = max(after, f.End+o.RecoveredAfter)
		switch {
		case o.Error != "":
			j.fail("%s: %s", f.Fault, o.Error)
		case !o.Recovered:
			j.fail("%s: the steady state was not back before %s", f.Fault, next)
		case o.RecoveredAfter > x.Recovery:
			j.fail("%s: the steady state came back %s after the heal, want within %s", f.Fault, o.RecoveredAfter, x.Recovery)
		}
	}
	if rest := between(ws, 0, load+time.Hour, after); len(rest) > 0 {
		j.After = x.Hypothesis.probes(rest)
	}
	for _, p := range j.After {
		if !p.OK {
			j.fail("the steady state did not hold after the last recovery: %s %s, want %s", p.Probe, p.Worst, p.Limit)
		}
	}
	j.verdicts(rep)
	return j
}

func firstStart(faults []reports.FaultSpan, load time.Duration) time.Duration {
	if len(faults) == 0 {
		return load
	}
	return faults[0].Start
}

// between are the windows from index skip on that lie wholly in
// [from, to): from is 0 unless given.
func between(ws []window, skip int, to time.Duration, from ...time.Duration) []window {
	var lo time.Duration
	if len(from) > 0 {
		lo = from[0]
	}
	var out []window
	for i, w := range ws {
		if i >= skip && w.start() >= lo && w.At <= to {
			out = append(out, w)
		}
	}
	return out
}

// baseInFlight is what "drained" means: back to the most in flight
// before the first fault (at least the hypothesis's limit, when it has
// one).
func baseInFlight(before []window, h Hypothesis) int {
	base := h.MaxInFlight
	for _, w := range before {
		base = max(base, w.InFlight)
	}
	return base
}

// outcome measures one fault: the probes while held, the recovery (two
// samples in a row meeting the hypothesis, before the next fault), the
// lag's peak and drain.
func (x *Experiment) outcome(f reports.FaultSpan, ws []window, next time.Duration, baseline int) FaultOutcome {
	o := FaultOutcome{Fault: f.Fault, Injected: f.Start, Healed: f.End, Error: f.Error}
	o.During = x.Hypothesis.probes(overlapping(ws, f.Start, f.End))
	recoveredAt := next
	for i := range ws {
		w := ws[i]
		// A window ending after the heal counts: under load the samples
		// come late and long, and one wholly after a short heal may not fit
		// before the next fault.
		if w.At <= f.End || w.start() >= next {
			continue
		}
		if w.InFlight > o.LagPeak && !o.Recovered {
			o.LagPeak = w.InFlight
		}
		if !o.Drained && w.InFlight <= baseline {
			o.Drained, o.DrainedAfter = true, w.At-f.End
		}
		if !o.Recovered && x.Hypothesis.holds(w) == "" && (i+1 >= len(ws) || x.Hypothesis.holds(ws[i+1]) == "") {
			o.Recovered, recoveredAt = true, w.start()
			o.RecoveredAfter = max(0, w.start()-f.End)
		}
	}
	for _, w := range overlapping(ws, f.Start, recoveredAt) {
		o.LagPeak = max(o.LagPeak, w.InFlight)
	}
	return o
}

// overlapping are the windows that overlap [from, to].
func overlapping(ws []window, from, to time.Duration) []window {
	var out []window
	for _, w := range ws {
		if w.At > from && w.start() < to {
			out = append(out, w)
		}
	}
	return out
}
