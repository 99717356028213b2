package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/env"
)

// nemesisFlags are `edload run`'s broker faults: which, how long each is
// held and how long the quiet between them lasts; the run's --seed draws
// the schedule, so the same seed replays it.
type nemesisFlags struct {
	kinds, hold, gap string
}

// brokerFaults are the --nemesis kinds, each made of the broker's
// environment handle by its capability.
var brokerFaults = map[string]func(env.Component) (chaos.Fault, error){
	"kill": chaos.Kill, "pause": chaos.Pause, "stop": chaos.Stop, "partition": chaos.Partition,
}

// kindList parses --nemesis; empty means none.
func (n nemesisFlags) kindList() ([]string, error) {
	if strings.TrimSpace(n.kinds) == "" || n.kinds == "none" {
		return nil, nil
	}
	var out []string
	for _, k := range strings.Split(n.kinds, ",") {
		k = strings.TrimSpace(k)
		if _, ok := brokerFaults[k]; !ok {
			return nil, fmt.Errorf("--nemesis %q: unknown fault %q (want kill, pause, stop or partition, comma-separated)", n.kinds, k)
		}
		out = append(out, k)
	}
	return out, nil
}

// validate checks the flags against the run's broker and duration.
func (n nemesisFlags) validate(f *runFlags) error {
	kinds, err := n.kindList()
	if err != nil || kinds == nil {
		return err
	}
	if f.broker == harness.BrokerMemory {
		return errors.New("--nemesis: the memory broker runs inside edload and has no process to break: use --broker kafka")
	}
	nm, err := n.nemesis(f, len(kinds))
	if err != nil {
		return err
	}
	s, err := nm.Schedule()
	switch {
	case err != nil:
		return fmt.Errorf("--nemesis with --duration %v: %w", f.duration, err)
	case len(s.Intervals) == 0:
		return fmt.Errorf("--nemesis: no fault fits in --duration %v after a --nemesis-gap of %s and a --nemesis-hold of %s", f.duration, n.gap, n.hold)
	}
	return nil
}

// nemesis is the schedule's shape for the run.
func (n nemesisFlags) nemesis(f *runFlags, faults int) (chaos.Nemesis, error) {
	nm := chaos.Nemesis{Seed: f.seed, Faults: faults, Span: f.duration}
	var errs []error
	var err error
	if nm.MinHold, nm.MaxHold, err = chaos.ParseRange(n.hold); err != nil {
		errs = append(errs, fmt.Errorf("--nemesis-hold: %w", err))
	}
	if nm.MinGap, nm.MaxGap, err = chaos.ParseRange(n.gap); err != nil {
		errs = append(errs, fmt.Errorf("--nemesis-gap: %w", err))
	}
	return nm, errors.Join(errs...)
}

// option is harness.Options.Nemesis for the flags (nil without --nemesis).
func (n nemesisFlags) option(f *runFlags) func(env.Component) ([]chaos.Fault, chaos.Schedule, error) {
	kinds, _ := n.kindList() // validated
	if kinds == nil {
		return nil
	}
	return func(broker env.Component) ([]chaos.Fault, chaos.Schedule, error) {
		faults := make([]chaos.Fault, 0, len(kinds))
		for _, k := range kinds {
			fault, err := brokerFaults[k](broker)
			if err != nil {
				return nil, chaos.Schedule{}, fmt.Errorf("--nemesis %s: %w", k, err)
			}
			faults = append(faults, fault)
		}
		nm, err := n.nemesis(f, len(faults))
		if err != nil {
			return nil, chaos.Schedule{}, err
		}
		s, err := nm.Schedule()
		return faults, s, err
	}
}
