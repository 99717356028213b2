package harness

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reports"
)

// SearchOptions shape a capacity search. Zero fields take their defaults.
type SearchOptions struct {
	// Start is the first probe's rate (default the run's Load.Rate).
	Start float64
	// Max is the highest rate tried (default loadgen.MaxRate).
	Max float64
	// Precision ends the search once the highest passing and the lowest
	// failing rate are within this fraction of each other (default 0.05).
	Precision float64
	// MaxProbes bounds the probes (default 12).
	MaxProbes int
	// OnProbe is told each probe's outcome as it ends.
	OnProbe func(Probe)
}

// Probe is one run of a capacity search.
type Probe struct {
	// N numbers the probes from 1.
	N int
	// Rate is the rate offered; Achieved what the load reached.
	Rate, Achieved float64
	// OK says the probe held every invariant and threshold (the SLO
	// among them); Failed names what it broke.
	OK     bool
	Failed []string
	Report *reports.Run
}

// Capacity is a capacity search's answer.
type Capacity struct {
	// Rate is the highest rate that met every invariant and threshold; 0
	// when even the lowest probe failed.
	Rate float64
	// Best is that probe's report (nil when Rate is 0).
	Best *reports.Run
	// Probes are every probe, in the order run.
	Probes []Probe
}

// FindMax searches for the highest open-loop rate at which sys meets
// every invariant and threshold o sets — typically a latency SLO
// (Options.SLO) and the achieved-rate floor (Options.MinRate) — the way
// the OpenMessaging Benchmark finds a maximum sustainable rate: each probe
// is a whole run (fresh broker and system) for o.Load.Duration; the rate
// doubles while probes pass, then bisects between the highest pass and the
// lowest failure until they are within s.Precision. With o.Out set, probe
// N's run directory is o.Out/probe-N.
func FindMax(ctx context.Context, sys System, o Options, s SearchOptions) (*Capacity, error) {
	s = s.withDefaults(o.Load.Rate)
	if err := s.validate(); err != nil {
		return nil, err
	}
	var c Capacity
	pass, fail := 0.0, 0.0 // the bracket: highest pass, lowest failure (0: none yet)
	rate := s.Start
	for len(c.Probes) < s.MaxProbes {
		p, err := probe(ctx, sys, o, len(c.Probes)+1, rate)
		if err != nil {
			return &c, err
		}
		c.Probes = append(c.Probes, p)
		if s.OnProbe != nil {
			s.OnProbe(p)
		}
		if p.OK {
			pass, c.Rate, c.Best = rate, rate, p.Report
		} else {
			fail = rate
		}
		next, done := s.next(pass, fail)
		if done {
			break
		}
		rate = next
	}
	return &c, nil
}

func (s SearchOptions) withDefaults(rate float64) SearchOptions {
	if s.Start <= 0 {
		s.Start = rate
	}
	if s.Max <= 0 {
		s.Max = loadgen.MaxRate
	}
	if s.Precision <= 0 {
		s.Precision = 0.05
	}
	if s.MaxProbes <= 0 {
		s.MaxProbes = 12
	}
	return s
}

func (s SearchOptions) validate() error {
	var errs []error
	if s.Start <= 0 || s.Start > s.Max {
		errs = append(errs, fmt.Errorf("capacity search: start rate %v must be positive and at most the max rate %v", s.Start, s.Max))
	}
	if s.Max > loadgen.MaxRate {
		errs = append(errs, fmt.Errorf("capacity search: max rate %v above %v", s.Max, float64(loadgen.MaxRate)))
	}
	if s.Precision >= 1 {
		errs = append(errs, fmt.Errorf("capacity search: precision %v must be a fraction below 1", s.Precision))
	}
	if s.MaxProbes > 100 {
		errs = append(errs, fmt.Errorf("capacity search: %d probes (max 100)", s.MaxProbes))
	}
	return errors.Join(errs...)
}

// next is the rate to probe after the bracket (pass, fail), or done.
func (s SearchOptions) next(pass, fail float64) (float64, bool) {
	switch {
	case fail == 0: // everything passed so far: double
		if pass >= s.Max {
			return 0, true
		}
		return min(pass*2, s.Max), false
	case pass == 0: // everything failed so far: halve
		return fail / 2, fail/2 < 1
	}
	if (fail-pass)/fail <= s.Precision {
		return 0, true
	}
	return (pass + fail) / 2, false
}

// probe runs sys once at rate.
func probe(ctx context.Context, sys System, o Options, n int, rate float64) (Probe, error) {
	o.Load.Rate = rate
	if o.Out != "" {
		o.Out = filepath.Join(o.Out, fmt.Sprintf("probe-%d", n)) // Run makes it
	}
	o.Config = append(append([]reports.KV(nil), o.Config...), reports.KV{Key: "probe", Value: fmt.Sprintf("%d at %.4g/s", n, rate)})
	started := time.Now()
	rep, err := Run(ctx, sys, o)
	if err != nil {
		return Probe{}, fmt.Errorf("probe %d at %.4g/s (after %v): %w", n, rate, time.Since(started).Round(time.Millisecond), err)
	}
	p := Probe{N: n, Rate: rate, OK: rep.OK(), Report: rep}
	for _, th := range rep.Thresholds {
		if th.Name == achievedRate {
			p.Achieved = th.Actual
		}
	}
	for _, inv := range rep.Invariants {
		if !inv.Valid {
			p.Failed = append(p.Failed, inv.Invariant)
		}
	}
	for _, th := range rep.Thresholds {
		if !th.OK {
			p.Failed = append(p.Failed, fmt.Sprintf("%s: %.2f %s, want %s %.2f %s", th.Name, th.Actual, th.Unit, th.Cmp, th.Limit, th.Unit))
		}
	}
	return p, nil
}

// Ceiling shapes a bare publish loop. Zero fields take their defaults.
type Ceiling struct {
	// Workers publish concurrently, closed loop (default 1).
	Workers int
	// Payload is each message's size in bytes.
	Payload int
	// Duration is how long the loop publishes (default 10 s).
	Duration time.Duration
	// Keys picks publish n's key, as the run's load picks operation n's
	// (default: 64 keys in turn).
	Keys loadgen.KeyDist
	// PerKeyOrder keeps at most one publish of a key in flight, the way
	// a producer that keeps per-key order by waiting for each
	// acknowledgement does (the echo system, most services): the ceiling a
	// run of such a system is bounded by, since a key's publishes cannot
	// overlap. Without it the loop publishes every key concurrently.
	PerKeyOrder bool
}

// PublishCeiling measures the bare publish rate of broker: c.Workers
// publishing as fast as the bus acknowledges for c.Duration, closed loop,
// nothing recorded, nothing consumed — the ceiling a capacity search is
// read against, measured on a fresh broker of the same kind in the same
// run, with the run's key distribution and ordering discipline so that the
// ratio measures edkit's cost, not a different workload.
func PublishCeiling(ctx context.Context, broker Broker, c Ceiling) (float64, error) {
	const topic = "edkit-ceiling"
	c = c.withDefaults()
	st, err := broker.start(ctx, []string{topic})
	if err != nil {
		return 0, &EnvError{err}
	}
	defer st.stop()
	b := st.bus
	ctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	body := make([]byte, c.Payload)
	var locks KeyLocks
	var next atomic.Uint64
	counts := make([]uint64, c.Workers)
	errs := make(chan error, len(counts))
	start := time.Now()
	for w := range counts {
		go func() {
			for {
				n := next.Add(1) - 1
				key := "k-" + strconv.Itoa(c.Keys.Key(n).Key)
				m := &bus.Message{ID: "c-" + strconv.FormatUint(n, 10), Topic: topic, Key: key, Payload: body}
				unlock := func() {}
				if c.PerKeyOrder {
					unlock = locks.Lock(key)
				}
				err := b.Publish(ctx, m)
				unlock()
				if err != nil {
					if ctx.Err() != nil {
						err = nil
					}
					errs <- err
					return
				}
				counts[w]++
			}
		}()
	}
	var first error
	for range counts {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	elapsed := time.Since(start)
	if first != nil {
		return 0, fmt.Errorf("publish ceiling: %w", first)
	}
	var n uint64
	for _, c := range counts {
		n += c
	}
	return float64(n) / elapsed.Seconds(), nil
}

func (c Ceiling) withDefaults() Ceiling {
	c.Workers = max(c.Workers, 1)
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Keys == nil {
		// 64 keys in turn: a sequence of one operation per key.
		c.Keys, _ = loadgen.NewKeyDist(loadgen.KeySpec{Dist: loadgen.KeysSeq, SeqLen: 1}, 64, 0)
	}
	return c
}
