package experiment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/edkit-dev/edkit/blackbox"
	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/reports"
)

// ErrBadMethod is a method the run's broker cannot take (a network fault
// on a broker with no proxy, a kill of an external one).
var ErrBadMethod = errors.New("experiment: the broker cannot take the method")

// Options are the run options for x on top of base (a front end's, or a
// workload's): the experiment's broker and load where it gives them, its
// method as the run's nemesis, and a series fine enough to see recovery.
func (x *Experiment) Options(base harness.Options) (harness.Options, error) {
	o := base
	if x.BrokerSet {
		o.Broker = x.Broker
	}
	if x.LoadSet || o.Load.Duration == 0 {
		cfg, opts, err := blackbox.LoadOptions(x.Load)
		if err != nil {
			return o, err
		}
		o.Load, o.LoadOptions = cfg, append(opts, base.LoadOptions...)
	}
	o.SampleEvery = sampleEvery(o.Load.Duration)
	if rate := x.loseAck(); rate > 0 {
		mf, err := chaos.NewMessageFault(chaos.MessageFaultConfig{Seed: o.Load.Seed, LoseAck: rate, MaxDelay: 5 * time.Millisecond}, nil)
		if err != nil {
			return o, err
		}
		o.Fault, o.NoFault = mf.Off(), false
	}
	o.Nemesis = x.nemesis(o.Load.Duration, o.Load.Seed, o.Fault)
	if o.Name == "" {
		o.Name = x.Title
	}
	return o, nil
}

// sampleEvery is a second, or finer for short experiments: recovery is
// read from the series, to its interval (a quarter second at least: shorter windows hold too few operations to judge a rate by).
func sampleEvery(load time.Duration) time.Duration {
	return min(time.Second, max(250*time.Millisecond, load/20))
}

// nemesis builds the run's faults on its broker and their schedule.
func (x *Experiment) nemesis(span time.Duration, seed int64, mf *chaos.MessageFault) func(env.Component) ([]chaos.Fault, chaos.Schedule, error) {
	return func(broker env.Component) ([]chaos.Fault, chaos.Schedule, error) {
		if x.Nemesis != nil {
			return x.drawn(broker, mf, span, seed)
		}
		faults := make([]chaos.Fault, 0, len(x.Method))
		sched := chaos.Schedule{Seed: seed}
		for i, s := range x.Method {
			f, err := build(broker, mf, s)
			if err != nil {
				return nil, chaos.Schedule{}, err
			}
			faults = append(faults, f)
			sched.Intervals = append(sched.Intervals, chaos.Interval{Fault: i, Start: s.At, End: s.At + s.Hold,
				StartMS: s.At.Milliseconds(), EndMS: (s.At + s.Hold).Milliseconds()})
		}
		return faults, sched, nil
	}
}

func (x *Experiment) drawn(broker env.Component, mf *chaos.MessageFault, span time.Duration, seed int64) ([]chaos.Fault, chaos.Schedule, error) {
	faults := make([]chaos.Fault, 0, len(x.Nemesis.Faults))
	for _, name := range x.Nemesis.Faults {
		f, err := build(broker, mf, Step{Fault: name, Latency: 200 * time.Millisecond, KBps: 16, Rate: 0.1})
		if err != nil {
			return nil, chaos.Schedule{}, err
		}
		faults = append(faults, f)
	}
	sched, err := chaos.Nemesis{Seed: seed, Faults: len(faults), Span: span,
		MinHold: x.Nemesis.Hold[0], MaxHold: x.Nemesis.Hold[1], MinGap: x.Nemesis.Gap[0], MaxGap: x.Nemesis.Gap[1]}.Schedule()
	return faults, sched, err
}

// build makes step's fault on c (the run's message fault mf for lose-ack).
func build(c env.Component, mf *chaos.MessageFault, s Step) (chaos.Fault, error) {
	if s.Fault == "lose-ack" {
		return mf.Window(fmt.Sprintf("lose-ack %.3g", s.Rate)), nil
	}
	if c == nil {
		return nil, fmt.Errorf("%w: %s: the memory broker runs inside edload: nothing to break", ErrBadMethod, s.Fault)
	}
	var f chaos.Fault
	var err error
	switch s.Fault {
	case "kill":
		f, err = chaos.Kill(c)
	case "stop":
		f, err = chaos.Stop(c)
	case "pause":
		f, err = chaos.Pause(c)
	case "partition":
		f, err = chaos.Partition(c)
	case "one-way":
		f, err = chaos.OneWay(c)
	case "latency":
		f, err = chaos.Latency(c, s.Latency, s.Jitter)
	case "bandwidth":
		f, err = chaos.Bandwidth(c, s.KBps)
	case "reset-peer":
		f, err = chaos.ResetPeer(c)
	default:
		err = fmt.Errorf("unknown fault %q", s.Fault)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMethod, err)
	}
	return f, nil
}

// Run runs x on sys with o (from Options) and judges it: the report of the
// run, and the experiment's journal. Every fault is healed before Run
// returns, whatever happens (chaos.During). A run that could not start is
// an error; a hypothesis or invariant that did not hold is a failed
// journal.
func Run(ctx context.Context, x *Experiment, sys harness.System, o harness.Options) (*Journal, *reports.Run, error) {
	started := time.Now()
	rep, err := harness.Run(ctx, sys, o)
	if err != nil {
		j := &Journal{Title: x.Title, File: x.File, Status: StatusAborted, Seed: o.Load.Seed, StartedAt: started,
			Duration: time.Since(started), Problems: []string{err.Error()}}
		return j, nil, err
	}
	j := judge(x, rep, o.Load.Duration)
	j.StartedAt, j.Duration = started, time.Since(started)
	return j, rep, nil
}

// loseAck is the fraction of deliveries the method's lost acks take (the
// largest its steps ask; a nemesis's 0.1), 0 when it loses none.
func (x *Experiment) loseAck() float64 {
	rate := 0.0
	for _, s := range x.Method {
		if s.Fault == "lose-ack" {
			rate = max(rate, s.Rate)
		}
	}
	if x.Nemesis != nil && slices.Contains(x.Nemesis.Faults, "lose-ack") {
		rate = max(rate, 0.1)
	}
	return rate
}
