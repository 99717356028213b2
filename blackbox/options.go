package blackbox

import (
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/reports"
)

// quiesceMargin is how long a run waits for outputs beyond the longest
// expectation, so that an output due at its deadline is judged, not cut.
const quiesceMargin = 5 * time.Second

// Options are the run options the workload asks for: its broker, its load
// (keys named key-0, key-1, …), no message fault (edkit's tap is not the
// system under test: faults go to the service's broker or process), its
// SLO, and a quiescence wait past its longest expectation. A front end
// overrides what its flags set.
func (w *Workload) Options() (harness.Options, error) {
	cfg, opts, err := LoadOptions(w.Load)
	if err != nil {
		return harness.Options{}, err
	}
	return harness.Options{
		Name:        w.Name,
		Broker:      w.Broker,
		Load:        cfg,
		LoadOptions: opts,
		NoFault:     true,
		Quiesce:     w.Quiesce(),
		SLO:         w.SLO,
		Config: []reports.KV{{Key: "rate", Value: w.Load.Rate}, {Key: "duration", Value: w.Load.Duration.String()},
			{Key: "keys", Value: fmt.Sprintf("%d %s", w.Load.Keys, w.Load.Distribution)}},
	}, nil
}

// LoadOptions turns a load section into the run's load: its config (Rate
// the schedule's mean, for the achieved-rate threshold) and its pacer,
// key distribution and key names (key-0, key-1, …).
func LoadOptions(l Load) (loadgen.Config, []loadgen.Option, error) {
	pacer, err := loadgen.ParseRate(l.Rate)
	if err != nil {
		return loadgen.Config{}, nil, fmt.Errorf("load.rate: %w", err)
	}
	spec, err := loadgen.ParseKeys(l.Distribution)
	if err != nil {
		return loadgen.Config{}, nil, fmt.Errorf("load.distribution: %w", err)
	}
	keys, err := loadgen.NewKeyDist(spec, l.Keys, l.Seed)
	if err != nil {
		return loadgen.Config{}, nil, fmt.Errorf("load.distribution %s with %d keys: %w", spec, l.Keys, err)
	}
	rate := float64(loadgen.Expected(pacer, l.Duration)) / l.Duration.Seconds()
	if c, ok := pacer.(loadgen.ConstantPacer); ok {
		rate = c.Rate
	}
	cfg := loadgen.Config{Rate: rate, Duration: l.Duration, Workers: l.Workers, Keys: l.Keys, Count: l.Count, Seed: l.Seed, WarmUp: l.WarmUp}
	return cfg, []loadgen.Option{loadgen.WithPacer(pacer), loadgen.WithKeyDist(keys),
		loadgen.WithKeyName(func(n int) string { return fmt.Sprintf("key-%d", n) })}, nil
}

// Quiesce is how long a run of the workload waits, after the load, for the
// last outputs: past the longest expectation.
func (w *Workload) Quiesce() time.Duration { return w.longestWithin() + quiesceMargin }
