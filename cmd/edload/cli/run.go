package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/reports"
)

// runFlags are `edload run`'s settings.
type runFlags struct {
	systems    []harness.System
	system     string
	broker     string
	duration   time.Duration
	rate       string
	count      uint64
	slo        string
	findMax    bool
	maxRate    float64
	probes     int
	baseline   bool
	workers    int
	replace    bool
	keys       int
	keyDist    string
	profile    string
	warmUp     time.Duration
	payload    int
	seed       int64
	fault      string
	dupRate    float64
	delayRate  float64
	maxDelay   time.Duration
	dropRate   float64
	reorder    float64
	maxHold    time.Duration
	corrupt    float64
	dedup      bool
	partitions int
	quiesce    time.Duration
	maxP99     time.Duration
	minRate    float64
	out        string
	verbose    bool
	nemesis    nemesisFlags
	wl         workloadFlags
}

// defaultOut is --out's default; a run replaces the run in it.
const defaultOut = "runs/latest"

// replacing reports whether the run may replace the run in --out.
func (f *runFlags) replacing() bool { return f.replace || f.out == defaultOut }

func (f *runFlags) validate() error {
	var errs []error
	if err := f.wl.broker(f).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--broker %s: %w", f.broker, err))
	}
	if f.find() == nil {
		errs = append(errs, fmt.Errorf("--system %q: want one of %s", f.system, strings.Join(systemNames(f.systems), ", ")))
	}
	if _, err := parseFaults(f.fault); err != nil {
		errs = append(errs, err)
	}
	if f.profile != "" {
		if _, err := harness.ProfileNamed(f.profile); err != nil {
			errs = append(errs, fmt.Errorf("--profile: %w", err))
		}
	}
	if _, err := f.messageFault(); err != nil {
		errs = append(errs, err)
	}
	if f.duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration %v: want > 0", f.duration))
	}
	if _, err := loadgen.ParseRate(f.rate); err != nil {
		errs = append(errs, fmt.Errorf("--rate: %w", err))
	}
	if f.slo != "" {
		if _, err := harness.ParseSLO(f.slo); err != nil {
			errs = append(errs, fmt.Errorf("--slo: %w", err))
		}
	}
	if f.findMax {
		if _, ok := f.constantRate(); !ok {
			errs = append(errs, fmt.Errorf("--find-max: --rate %q must be a constant starting rate", f.rate))
		}
		if f.probes < 1 || f.probes > 100 {
			errs = append(errs, fmt.Errorf("--probes %d: want 1 to 100", f.probes))
		}
		if f.maxRate < 0 || f.maxRate > loadgen.MaxRate {
			errs = append(errs, fmt.Errorf("--max-rate %v: want 0 (no limit) to %d", f.maxRate, loadgen.MaxRate))
		}
	}
	if f.count > loadgen.MaxCount {
		errs = append(errs, fmt.Errorf("--count %d: want at most %d", f.count, loadgen.MaxCount))
	}
	if f.workers < 1 || f.workers > loadgen.MaxWorkers {
		errs = append(errs, fmt.Errorf("--workers %d: want 1 to %d", f.workers, loadgen.MaxWorkers))
	}
	if f.keys < 1 || f.keys > loadgen.MaxKeys {
		errs = append(errs, fmt.Errorf("--keys %d: want 1 to %d", f.keys, loadgen.MaxKeys))
	} else if _, err := f.keyDistribution(); err != nil {
		errs = append(errs, err)
	}
	if f.warmUp < 0 || f.warmUp >= f.duration {
		errs = append(errs, fmt.Errorf("--warm-up %v: want >= 0 and shorter than --duration", f.warmUp))
	}
	if f.payload < 0 || f.payload > loadgen.MaxPayloadSize {
		errs = append(errs, fmt.Errorf("--payload %d: want 0 to %d bytes", f.payload, loadgen.MaxPayloadSize))
	}
	if f.dupRate < 0 || f.dupRate > 1 || f.delayRate < 0 || f.delayRate > 1 {
		errs = append(errs, errors.New("--dup-rate and --delay-rate: want fractions within [0, 1]"))
	}
	if f.minRate < 0 || f.minRate > 1 {
		errs = append(errs, fmt.Errorf("--min-rate %v: want a fraction within [0, 1]", f.minRate))
	}
	if f.partitions < 1 || f.partitions > harness.MaxPartitions {
		errs = append(errs, fmt.Errorf("--partitions %d: want 1 to %d", f.partitions, harness.MaxPartitions))
	}
	if f.maxP99 < 0 {
		errs = append(errs, fmt.Errorf("--max-p99 %v: want >= 0 (0: no threshold)", f.maxP99))
	}
	if f.quiesce <= 0 {
		errs = append(errs, fmt.Errorf("--quiesce-timeout %v: want > 0", f.quiesce))
	}
	if strings.TrimSpace(f.out) == "" {
		errs = append(errs, errors.New("--out: want a directory"))
	}
	if err := f.nemesis.validate(f); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newRunCmd(stdout, stderr io.Writer, systems []harness.System) (*cobra.Command, error) {
	f := &runFlags{systems: systems}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Drive open-loop load through a system, check invariants, write a report",
		Long: `run starts the system under test (--system; the reference shop by default:
command service, order-fulfilment saga, order-summary projection, outbox
relay) on the chosen broker, drives operations at a constant open-loop rate
with the chosen message faults in front of every consumer, waits for the
system to quiesce, checks the recorded history and the system's final state
against edkit's invariants and the system's own, and writes report.json,
junit.xml, checks.json and the history (history.bin.zst) to --out; edload
check re-judges it later. The history streams to disk as it is recorded and
is judged as a stream, so memory stays flat however long the run.

Latency is measured from each operation's intended send time, so a stalled
system cannot hide its stall. End-to-end latency is from that time until the
system's read model shows the operation.`,
		Example: `  edload run --duration 20s --rate 100 --fault duplicate --dedup=true
  edload run --duration 20s --rate 100 --fault duplicate --dedup=false   # exits 1: duplicate effects`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("run takes no arguments, got %q", args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.wl.apply(f, cmd.Flags()); err != nil {
				return &usageError{err}
			}
			if err := f.validate(); err != nil {
				fmt.Fprintln(stderr, cmd.UsageString())
				return &usageError{err}
			}
			progress := io.Writer(stderr)
			var tty *os.File
			if file, ok := stderr.(*os.File); ok {
				tty = file
			}
			rep, err := runSystem(cmd.Context(), f, stdout, progress, tty)
			if err != nil {
				return err
			}
			if rep != nil && !rep.OK() {
				return errBroken
			}
			return nil
		},
	}
	fl := cmd.Flags()
	def := ""
	if len(systems) > 0 {
		def = systems[0].Name()
	}
	fl.StringVar(&f.system, "system", def, "the system under test: "+strings.Join(systemNames(systems), ", "))
	fl.StringVar(&f.broker, "broker", "kafka", "broker: kafka (embedded by default: the real wire protocol in-process), memory, or nats,\n"+
		"rabbitmq or redis (a local server by default; see --provider)")
	f.wl.add(fl)
	fl.DurationVar(&f.duration, "duration", 20*time.Second, "how long to send load")
	fl.StringVar(&f.rate, "rate", "100", "operations per second, open loop: a number (100), a ramp (ramp:100-1000/30s: rising\n"+
		"linearly over 30 s, then held) or steps (steps:100/10s,200/10s: held after the last)")
	fl.StringVar(&f.slo, "slo", "", "latency objectives, each a threshold: LATENCY.STAT<LIMIT, comma-separated, LATENCY send, e2e or\n"+
		"settled, STAT p50, p90, p99, p999, mean or max (e2e.p99<50ms,send.p99<10ms)")
	fl.BoolVar(&f.findMax, "find-max", false, "capacity search: probe runs of --duration from --rate up, doubling while every invariant and\n"+
		"threshold (--slo, --min-rate) holds, then bisecting; reports the highest rate that held, each probe in --out/probe-N")
	fl.Float64Var(&f.maxRate, "max-rate", 0, "--find-max: the highest rate to probe (0: no limit)")
	fl.IntVar(&f.probes, "probes", 10, "--find-max: the most probes to run")
	fl.BoolVar(&f.baseline, "baseline", false, "--find-max: first measure the broker's bare publish ceiling (--workers publishing as fast as\n"+
		"acknowledged for --duration, nothing recorded) and give the capacity as a fraction of it")
	fl.Uint64Var(&f.count, "count", 0, "stop after this many operations, or at --duration if it comes first (0: no limit)")
	fl.IntVar(&f.workers, "workers", 32, "concurrent senders; bounds concurrency, never the schedule")
	fl.IntVar(&f.keys, "keys", 50, "number of keys (customers, aggregates) operations are spread over")
	fl.StringVar(&f.keyDist, "key-dist", "uniform", "how operations pick keys: uniform, zipf:SKEW (e.g. zipf:1.2), hot:FRACTION/KEYS\n"+
		"(hot:0.9/10: 90% on 10 keys), seq:N (N operations per aggregate in a row)")
	fl.DurationVar(&f.warmUp, "warm-up", 0, "operations due in this first part of --duration are sent but left out of the latency figures")
	fl.IntVar(&f.payload, "payload", 64, "bytes of note carried by each order")
	fl.Int64Var(&f.seed, "seed", 1, "seed for keys and the fault schedule; the same seed replays the same run")
	fl.StringVar(&f.nemesis.kinds, "nemesis", "", "broker faults to inject during the load, comma-separated: kill (restarted on heal), pause,\n"+
		"stop or partition, one at a time on a schedule drawn from --seed (the same seed, the same schedule)")
	fl.StringVar(&f.nemesis.hold, "nemesis-hold", "1s-3s", "how long each --nemesis fault is held: MIN-MAX or one duration")
	fl.StringVar(&f.nemesis.gap, "nemesis-gap", "2s-5s", "the quiet before each --nemesis fault: MIN-MAX or one duration")
	fl.StringVar(&f.fault, "fault", chaos.KindDuplicate, "message faults to inject, comma-separated: none, or any of duplicate (duplicates and\n"+
		"delays deliveries), drop (acks without handling: loss), reorder (swaps same-key deliveries), corrupt (flips payload bytes);\n"+
		"the default, duplicate, puts deduplication, per-key order and idempotency to the test: none must be asked for")
	fl.Float64Var(&f.dupRate, "dup-rate", 0.05, "fraction of deliveries duplicated by the duplicate fault")
	fl.Float64Var(&f.delayRate, "delay-rate", 0.05, "fraction of deliveries delayed by the duplicate fault")
	fl.DurationVar(&f.maxDelay, "max-delay", 20*time.Millisecond, "longest delay the duplicate fault adds")
	fl.Float64Var(&f.dropRate, "drop-rate", 0.05, "fraction of deliveries the drop fault acks without handling")
	fl.Float64Var(&f.reorder, "reorder-rate", 0.05, "fraction of deliveries the reorder fault holds back behind the next of their key")
	fl.DurationVar(&f.maxHold, "max-hold", 50*time.Millisecond, "longest the reorder fault holds a delivery back")
	fl.Float64Var(&f.corrupt, "corrupt-rate", 0.05, "fraction of deliveries whose payload the corrupt fault flips")
	fl.BoolVar(&f.dedup, "dedup", true, "inbox deduplication by message ID in the command service")
	fl.IntVar(&f.partitions, "partitions", 4, "partitions per Kafka topic")
	fl.DurationVar(&f.quiesce, "quiesce-timeout", 60*time.Second, "how long to wait for in-flight orders to settle after the load")
	fl.StringVar(&f.profile, "profile", "", "guarantee profile the gates judge by: at-least-once (the brokers' own, the default:\n"+
		"duplicate deliveries permitted, duplicate effects not) or exactly-once (no duplicate delivery either)")
	fl.DurationVar(&f.maxP99, "max-p99", 0, "fail the run when end-to-end p99 exceeds this (0: no threshold)")
	fl.Float64Var(&f.minRate, "min-rate", 0.95, "fail the run when the achieved rate is below this fraction of the scheduled one")
	fl.StringVar(&f.out, "out", defaultOut, "directory for report.json, junit.xml, checks.json and the history; a run already\n"+
		"there is replaced only with --replace (always for the default, whose name says it holds the latest)")
	fl.BoolVar(&f.replace, "replace", false, "replace the run already in --out (its files only)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log the system's warnings (dead-letters, retries)")
	if err := addSystemFlags(fl, systems); err != nil {
		return nil, err
	}
	return cmd, nil
}

// faultKinds are the --fault names edload accepts, in chaos's terms.
var faultKinds = []string{chaos.KindDuplicate, chaos.KindDrop, chaos.KindReorder, chaos.KindCorrupt}

// parseFaults reads --fault: "none" or a comma-separated list of
// faultKinds, each at most once.
func parseFaults(s string) (map[string]bool, error) {
	kinds := map[string]bool{}
	if strings.TrimSpace(s) == "none" {
		return kinds, nil
	}
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		switch {
		case !slices.Contains(faultKinds, k):
			return nil, fmt.Errorf("--fault %q: %q is not a fault; want none or a comma-separated list of %s",
				s, k, strings.Join(faultKinds, ", "))
		case kinds[k]:
			return nil, fmt.Errorf("--fault %q: %s named twice", s, k)
		}
		kinds[k] = true
	}
	return kinds, nil
}

// messageFault builds the fault --fault asks for, nil for none. Only the
// chosen kinds get their rates, so the defaults of the others do nothing.
func (f *runFlags) messageFault() (*chaos.MessageFault, error) {
	kinds, err := parseFaults(f.fault)
	if err != nil || len(kinds) == 0 {
		return nil, err
	}
	cfg := chaos.MessageFaultConfig{Seed: f.seed}
	if kinds[chaos.KindDuplicate] {
		cfg.Duplicate, cfg.Delay, cfg.MaxDelay = f.dupRate, f.delayRate, f.maxDelay
	}
	if kinds[chaos.KindDrop] {
		cfg.Drop = f.dropRate
	}
	if kinds[chaos.KindReorder] {
		cfg.Reorder, cfg.MaxHold = f.reorder, f.maxHold
	}
	if kinds[chaos.KindCorrupt] {
		cfg.Corrupt = f.corrupt
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("--fault %s: %w", f.fault, err)
	}
	return chaos.NewMessageFault(cfg, clock.Real{})
}

// checkOut refuses a bad --out before anything starts, as bad usage
// rather than after the load (harness.CheckRunDir).
func checkOut(f *runFlags) error {
	if _, err := harness.CheckRunDir(f.out, f.replacing()); err != nil {
		return &usageError{fmt.Errorf("--out: %w", err)}
	}
	return nil
}

// runSystem is `edload run`: the flags become harness options, the run
// core does the rest, and the summary goes to stdout.
func runSystem(ctx context.Context, f *runFlags, stdout, progress io.Writer, tty *os.File) (*reports.Run, error) {
	if err := checkOut(f); err != nil {
		return nil, err
	}
	fault, err := f.messageFault()
	if err != nil {
		return nil, &usageError{err}
	}
	sys := f.find()
	pacer, rate, err := f.schedule()
	if err != nil {
		return nil, &usageError{err}
	}
	keys, err := f.keyDistribution()
	if err != nil {
		return nil, &usageError{err}
	}
	o := harness.Options{
		Command: "edload " + strings.Join(os.Args[1:], " "),
		Broker:  f.wl.broker(f),
		Load: loadgen.Config{Rate: rate, Duration: f.duration, Workers: f.workers, Keys: f.keys, Count: f.count,
			PayloadSize: f.payload, Seed: f.seed, WarmUp: f.warmUp},
		LoadOptions: []loadgen.Option{loadgen.WithKeyName(func(n int) string { return fmt.Sprintf("customer-%d", n) }),
			loadgen.WithKeyDist(keys), loadgen.WithPacer(pacer)},
		Nemesis: f.nemesis.option(f),
		Fault:   fault, NoFault: fault == nil, Dedup: f.dedup, Quiesce: f.quiesce, MinRate: f.minRate, MaxP99: f.maxP99, Out: f.out, Replace: f.replacing(),
		Config: []reports.KV{
			{Key: "rate", Value: f.rate}, {Key: "count", Value: fmt.Sprint(f.count)}, {Key: "duration", Value: f.duration.String()},
			{Key: "workers", Value: fmt.Sprint(f.workers)}, {Key: "keys", Value: fmt.Sprint(f.keys)},
			{Key: "key-dist", Value: f.keyDist}, {Key: "warm-up", Value: f.warmUp.String()},
			{Key: "payload", Value: fmt.Sprint(f.payload)}, {Key: "fault", Value: f.fault},
			{Key: "dup-rate", Value: fmt.Sprint(f.dupRate)}, {Key: "delay-rate", Value: fmt.Sprint(f.delayRate)},
			{Key: "max-delay", Value: f.maxDelay.String()}, {Key: "dedup", Value: fmt.Sprint(f.dedup)},
			{Key: "partitions", Value: fmt.Sprint(f.partitions)},
			{Key: "min-rate", Value: fmt.Sprint(f.minRate)},
			{Key: "nemesis", Value: f.nemesis.kinds}, {Key: "nemesis-hold", Value: f.nemesis.hold}, {Key: "nemesis-gap", Value: f.nemesis.gap},
		},
		OnStart: func(broker string) {
			fmt.Fprintf(progress, "edload: %s load on %s for %v at %s/s (fault=%s dedup=%v seed=%d)\n",
				sys.Name(), broker, f.duration, f.rate, f.fault, f.dedup, f.seed)
		},
	}
	if tty != nil {
		o.LoadOptions = append(o.LoadOptions, loadgen.WithTerminalProgress(tty))
	} else {
		o.LoadOptions = append(o.LoadOptions, loadgen.WithProgress(loadgen.NewLogProgress(progress), 2*time.Second))
	}
	if f.verbose {
		o.Logger = slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if f.profile != "" {
		p, _ := harness.ProfileNamed(f.profile) // validated
		o.Profile = &p
	}
	o.SLO, _ = harness.ParseSLO(f.slo) // validated; "" is no SLO
	if f.slo == "" {
		o.SLO = nil
	}
	if f.findMax {
		return findMax(ctx, f, sys, o, stdout, progress)
	}
	rep, err := harness.Run(ctx, sys, o)
	if err != nil {
		return nil, runError(ctx, err)
	}
	if err := reports.WriteSummary(stdout, rep); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "report: %s\n", f.out)
	return rep, nil
}

// findMax is `edload run --find-max`: probes reported as they end, then
// the best probe's summary and the capacity. The run directory gets the
// best probe's report; each probe's is in probe-N.
func findMax(ctx context.Context, f *runFlags, sys harness.System, o harness.Options, stdout, progress io.Writer) (*reports.Run, error) {
	o.LoadOptions = nil // one progress line per probe instead of a bar per probe
	o.LoadOptions = append(o.LoadOptions, loadgen.WithKeyName(func(n int) string { return fmt.Sprintf("customer-%d", n) }))
	keys, _ := f.keyDistribution() // validated
	o.LoadOptions = append(o.LoadOptions, loadgen.WithKeyDist(keys))
	o.OnStart = nil
	ceiling := 0.0
	if f.baseline {
		var err error
		if ceiling, err = harness.PublishCeiling(ctx, o.Broker, harness.Ceiling{
			Workers: f.workers, Payload: f.payload, Duration: f.duration, Keys: keys, PerKeyOrder: true}); err != nil {
			return nil, runError(ctx, err)
		}
		fmt.Fprintf(progress, "edload: bare publish ceiling on %s: %.4g/s (%d workers, closed loop, %v, the run's keys, one publish per key in flight)\n",
			f.broker, ceiling, f.workers, f.duration)
	}
	c, err := harness.FindMax(ctx, sys, o, harness.SearchOptions{Max: f.maxRate, MaxProbes: f.probes,
		OnProbe: func(p harness.Probe) {
			verdict := "PASS"
			if !p.OK {
				verdict = "FAIL " + strings.Join(p.Failed, "; ")
			}
			fmt.Fprintf(progress, "edload: probe %d at %.4g/s: achieved %.4g/s: %s\n", p.N, p.Rate, p.Achieved, verdict)
		}})
	if err != nil {
		return nil, runError(ctx, err)
	}
	if c.Best == nil {
		fmt.Fprintf(stdout, "capacity: no probe held every invariant and threshold (%d probes, from %s/s down); see %s/probe-*\n",
			len(c.Probes), f.rate, f.out)
		return &reports.Run{Thresholds: []reports.Threshold{reports.AtLeast("capacity", 0, 1, "msg/s")}}, nil
	}
	if err := reports.WriteSummary(stdout, c.Best); err != nil {
		return nil, err
	}
	if err := reports.WriteDir(f.out, c.Best); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "capacity: %.4g/s, the highest rate that held every invariant and threshold (%d probes; each in %s/probe-N)\n",
		c.Rate, len(c.Probes), f.out)
	if ceiling > 0 {
		fmt.Fprintf(stdout, "capacity / bare publish ceiling: %.4g/s / %.4g/s = %.2f\n", c.Rate, ceiling, c.Rate/ceiling)
	}
	return c.Best, nil
}

// runError maps a run's error to the CLI's: an environment that could not
// start is exit 3, an interrupted run is the context's error.
func runError(ctx context.Context, err error) error {
	var envErr *harness.EnvError
	if errors.As(err, &envErr) {
		return &envError{envErr.Err}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, chaos.ErrUnsupported) {
		// --nemesis asked for a fault the broker cannot take: a usage
		// error, known only once the broker's environment is up.
		return &usageError{err}
	}
	return err
}

// constantRate is --rate when it is a plain number.
func (f *runFlags) constantRate() (float64, bool) {
	p, err := loadgen.ParseRate(f.rate)
	if err != nil {
		return 0, false
	}
	c, ok := p.(loadgen.ConstantPacer)
	return c.Rate, ok
}

// schedule is --rate's pacer and the mean rate it schedules over
// --duration (or --count), which the achieved rate is held to.
func (f *runFlags) schedule() (loadgen.Pacer, float64, error) {
	p, err := loadgen.ParseRate(f.rate)
	if err != nil {
		return nil, 0, fmt.Errorf("--rate: %w", err)
	}
	if c, ok := p.(loadgen.ConstantPacer); ok {
		return p, c.Rate, nil
	}
	d := f.duration
	n := loadgen.Expected(p, d)
	if f.count > 0 && f.count < n {
		sched := p.(loadgen.Scheduler) // every parsed pacer is one
		n, d = f.count, sched.Due(f.count-1)
	}
	if n == 0 || d <= 0 {
		return nil, 0, fmt.Errorf("--rate %s schedules nothing within --duration %v", f.rate, f.duration)
	}
	return p, float64(n) / d.Seconds(), nil
}

// find is the system --system names, nil when none does.
func (f *runFlags) find() harness.System {
	for _, s := range f.systems {
		if s.Name() == f.system {
			return s
		}
	}
	return nil
}

func systemNames(systems []harness.System) []string {
	names := make([]string, 0, len(systems))
	for _, s := range systems {
		names = append(names, s.Name())
	}
	return names
}

// FlagAdder is implemented by systems with settings of their own: they
// add flags to `edload run` (the shop's --decline-every). A flag that
// clashes with edload's or another system's is an error at start.
type FlagAdder interface {
	AddFlags(fs *pflag.FlagSet)
}

// addSystemFlags lets each system add its flags to fs.
func addSystemFlags(fs *pflag.FlagSet, systems []harness.System) error {
	seen := map[string]bool{}
	for _, s := range systems {
		if seen[s.Name()] {
			return fmt.Errorf("two systems are named %q", s.Name())
		}
		seen[s.Name()] = true
		fa, ok := s.(FlagAdder)
		if !ok {
			continue
		}
		own := pflag.NewFlagSet(s.Name(), pflag.ContinueOnError)
		fa.AddFlags(own)
		var clash error
		own.VisitAll(func(fl *pflag.Flag) {
			if fs.Lookup(fl.Name) != nil {
				clash = fmt.Errorf("system %s: flag --%s is taken", s.Name(), fl.Name)
				return
			}
			fs.AddFlag(fl)
		})
		if clash != nil {
			return clash
		}
	}
	return nil
}

// keyDistribution builds --key-dist for --keys keys.
func (f *runFlags) keyDistribution() (loadgen.KeyDist, error) {
	spec, err := loadgen.ParseKeys(f.keyDist)
	if err != nil {
		return nil, fmt.Errorf("--key-dist %q: %w", f.keyDist, err)
	}
	d, err := loadgen.NewKeyDist(spec, f.keys, f.seed)
	if err != nil {
		return nil, fmt.Errorf("--key-dist %q with --keys %d: %w", f.keyDist, f.keys, err)
	}
	return d, nil
}
