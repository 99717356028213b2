package experiment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edkit-dev/edkit/chaos"
)

// Trial is one run of a shrink: the method tried and whether it still
// broke what the original broke.
type Trial struct {
	Method []Step
	Broke  bool
	Broken []string
}

// Runner runs an experiment and returns its journal (Run, with the
// front end's system and options).
type Runner func(ctx context.Context, x *Experiment) (*Journal, error)

// ErrNothingToShrink is an experiment whose run breaks no invariant.
var ErrNothingToShrink = errors.New("experiment: the run broke no invariant: nothing to shrink")

// minHold is the shortest hold a shrink tries.
const minHold = 100 * time.Millisecond

// Shrink looks for a smaller method that still breaks an invariant x's
// run broke: it makes a nemesis's draw explicit, drops faults one at a
// time, then halves each remaining hold, keeping every change after which
// the run still broke one of the same invariants — Jepsen's and
// QuickCheck's way to a failure a person can read. It stops after
// maxRuns runs and returns the smallest experiment found with the trials.
//
// span and seed are the run's load duration and seed, from which a
// nemesis draws its schedule.
func Shrink(ctx context.Context, x *Experiment, run Runner, maxRuns int, span time.Duration, seed int64) (*Experiment, []Trial, error) {
	first, err := run(ctx, x)
	if err != nil {
		return nil, nil, err
	}
	target := broken(first)
	if len(target) == 0 {
		return nil, nil, ErrNothingToShrink
	}
	best := *x
	best.Method, best.Nemesis = x.explicit(span, seed), nil
	s := &shrinker{ctx: ctx, run: run, target: target, runs: 1, max: maxRuns}
	s.trials = append(s.trials, Trial{Method: slices.Clone(best.Method), Broke: true, Broken: target})
	best.Method = s.drop(&best)
	best.Method = s.shorten(&best)
	return &best, s.trials, s.err
}

type shrinker struct {
	ctx    context.Context
	run    Runner
	target []string
	trials []Trial
	runs   int
	max    int
	err    error
}

// try runs x with method m and says whether it still broke a target
// invariant.
func (s *shrinker) try(x *Experiment, m []Step) bool {
	if s.runs >= s.max || s.err != nil || len(m) == 0 {
		return false
	}
	s.runs++
	y := *x
	y.Method = m
	j, err := s.run(s.ctx, &y)
	if err != nil {
		s.err = err
		return false
	}
	b := broken(j)
	ok := slices.ContainsFunc(b, func(inv string) bool { return slices.Contains(s.target, inv) })
	s.trials = append(s.trials, Trial{Method: slices.Clone(m), Broke: ok, Broken: b})
	return ok
}

// drop removes faults one at a time while the run still breaks.
func (s *shrinker) drop(x *Experiment) []Step {
	m := x.Method
	for i := 0; i < len(m) && len(m) > 1; {
		without := slices.Delete(slices.Clone(m), i, i+1)
		if s.try(x, without) {
			m = without
			continue
		}
		i++
	}
	return m
}

// shorten halves each fault's hold while the run still breaks.
func (s *shrinker) shorten(x *Experiment) []Step {
	m := slices.Clone(x.Method)
	for i := range m {
		for m[i].Hold/2 >= minHold {
			shorter := slices.Clone(m)
			shorter[i].Hold /= 2
			if !s.try(x, shorter) {
				break
			}
			m = shorter
		}
	}
	return m
}

// explicit is x's method, or its nemesis's draw for its seed as a method.
func (x *Experiment) explicit(span time.Duration, seed int64) []Step {
	if x.Nemesis == nil {
		return slices.Clone(x.Method)
	}
	sched, err := chaos.Nemesis{Seed: seed, Faults: len(x.Nemesis.Faults), Span: span,
		MinHold: x.Nemesis.Hold[0], MaxHold: x.Nemesis.Hold[1], MinGap: x.Nemesis.Gap[0], MaxGap: x.Nemesis.Gap[1]}.Schedule()
	if err != nil {
		return nil
	}
	out := make([]Step, 0, len(sched.Intervals))
	for _, in := range sched.Intervals {
		out = append(out, Step{Fault: x.Nemesis.Faults[in.Fault], At: in.Start, Hold: in.End - in.Start,
			Latency: 200 * time.Millisecond, KBps: 16, Rate: 0.1})
	}
	return out
}

// broken are the invariants j's run broke.
func broken(j *Journal) []string {
	var out []string
	for _, v := range j.Invariants {
		if !v.OK {
			out = append(out, v.Invariant)
		}
	}
	return out
}

// WriteFile writes x as an experiment file at path, its method explicit:
// what a shrink found, to replay with edload chaos run.
func (x *Experiment) WriteFile(path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by edload chaos shrink from %s\ntitle: %q\n", x.File, x.Title)
	if x.Workload != "" {
		abs, err := filepath.Abs(x.Workload)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "workload: %q\n", abs)
	} else {
		fmt.Fprintf(&b, "system: %q\n", x.System)
	}
	if x.BrokerSet {
		fmt.Fprintf(&b, "broker: {kind: %s, durable: %v, proxied: %v, partitions: %d}\n", x.Broker.Kind, x.Broker.Durable, x.Broker.Proxied, max(x.Broker.Partitions, 1))
		if x.Broker.Provider != "" {
			return errors.New("experiment: a shrunk experiment on a broker of another provider is not written: give its broker by hand")
		}
	}
	if l := x.Load; x.LoadSet {
		fmt.Fprintf(&b, "load: {rate: %q, duration: %s, keys: %d, distribution: %q, workers: %d, seed: %d}\n", l.Rate, l.Duration, l.Keys, l.Distribution, l.Workers, l.Seed)
	}
	h := x.Hypothesis
	fmt.Fprintf(&b, "steady-state: {")
	var probes []string
	if h.MinThroughput > 0 {
		probes = append(probes, fmt.Sprintf("min-throughput: %d", int64(h.MinThroughput)))
	}
	if h.MaxE2EP99 > 0 {
		probes = append(probes, "max-e2e-p99: "+h.MaxE2EP99.String())
	}
	if h.MaxInFlight > 0 {
		probes = append(probes, fmt.Sprintf("max-in-flight: %d", h.MaxInFlight))
	}
	fmt.Fprintf(&b, "%s}\nmethod:\n", strings.Join(probes, ", "))
	for _, s := range x.Method {
		at := ""
		if s.At > 0 {
			at = ", at: " + s.At.String()
		}
		fmt.Fprintf(&b, "  - {fault: %s%s, hold: %s%s}\n", s.Fault, at, s.Hold, s.shape())
	}
	fmt.Fprintf(&b, "recovery: %s\n", x.Recovery)
	return os.WriteFile(path, []byte(b.String()), 0o644) //nolint:gosec // an experiment file, readable on purpose
}

// shape is a step's own settings, as the file spells them.
func (s Step) shape() string {
	switch s.Fault {
	case "latency":
		if s.Jitter > 0 {
			return fmt.Sprintf(", latency: %s, jitter: %s", s.Latency, s.Jitter)
		}
		return ", latency: " + s.Latency.String()
	case "bandwidth":
		return fmt.Sprintf(", kbps: %d", s.KBps)
	case "lose-ack":
		return fmt.Sprintf(", rate: %g", s.Rate)
	}
	return ""
}
