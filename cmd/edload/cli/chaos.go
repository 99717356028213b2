package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/blackbox"
	"github.com/edkit-dev/edkit/experiment"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/reports"
)

func newChaosCmd(stdout, stderr io.Writer, systems []harness.System) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Chaos experiments: a steady-state hypothesis, faults under load, recovery, a journal",
	}
	cmd.AddCommand(newChaosRunCmd(stdout, stderr, systems), newChaosShrinkCmd(stdout, stderr, systems), newChaosRecoverCmd(stdout))
	return cmd
}

// newChaosRecoverCmd heals what an experiment killed mid-way left broken.
// Every fault edkit injects lives in something edkit started: a proxy in
// edload's own process (gone with it), a server or service process it
// started (killed with it: Pdeathsig, paused or not), a container it
// started (left running, perhaps paused or disconnected). So recovering is
// removing what the dead edload owned — `env clean` — which heals by
// construction: nothing paused, partitioned or slowed can outlive it.
func newChaosRecoverCmd(stdout io.Writer) *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Heal what an experiment killed mid-way left: its processes, containers, temp dirs",
		Long: `chaos recover removes everything an edload that died mid-experiment (SIGKILL,
a crash) started: its containers — paused or cut off from their network or
not — and temp dirs, proven edkit's by their recorded owner, whose owner is
gone. Its proxies died with it, and so did its server and service processes
(each dies with the edload that started it, even when paused). Anything
whose owner still runs is left alone. It is env clean, for experiments.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return envClean(c.Context(), state, stdout)
		},
	}
	cmd.Flags().StringVar(&state, "state", defaultStateFile, "file recording the running environment (env up's)")
	return cmd
}

func newChaosShrinkCmd(stdout, stderr io.Writer, systems []harness.System) *cobra.Command {
	f := &chaosFlags{}
	var maxRuns int
	cmd := &cobra.Command{
		Use:   "shrink EXPERIMENT.yaml",
		Short: "Find a smaller method that still breaks what an experiment breaks",
		Long: `chaos shrink runs the experiment; when it breaks an invariant, it makes the
method explicit (a nemesis's draw for --seed), drops faults one at a time and
halves each remaining hold, keeping every change after which the run still
breaks one of the same invariants. It writes the smallest experiment found to
--out/shrunk.yaml and prints the command that replays it.`,
		Example: `  edload chaos shrink docs/experiments/echo-lose-ack.yaml --dedup=false`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{fmt.Errorf("chaos shrink takes one experiment file, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("out") {
				f.out = "runs/chaos-shrink"
			}
			if maxRuns < 1 || maxRuns > 1000 {
				return &usageError{fmt.Errorf("--max-runs %d: want 1 to 1000", maxRuns)}
			}
			return chaosShrink(cmd.Context(), f, maxRuns, args[0], stdout, stderr, systems)
		},
	}
	f.add(cmd)
	cmd.Flags().IntVar(&maxRuns, "max-runs", 30, "the most runs the search makes (each is a whole experiment)")
	return cmd
}

// chaosShrink is edload chaos shrink.
func chaosShrink(ctx context.Context, f *chaosFlags, maxRuns int, file string, stdout, stderr io.Writer, systems []harness.System) error {
	x, sys, o, err := prepare(f, file, systems)
	if err != nil {
		return err
	}
	n := 0
	runner := func(ctx context.Context, y *experiment.Experiment) (*experiment.Journal, error) {
		n++
		oy, err := y.Options(o)
		if err != nil {
			return nil, err
		}
		oy.Out, oy.Replace = filepath.Join(f.out, fmt.Sprintf("run-%d", n)), true
		j, _, err := experiment.Run(ctx, y, sys, oy)
		if err == nil {
			fmt.Fprintf(stderr, "edload: run %d: %d fault(s), %s held: %s %v\n", n, len(y.Method), held(y.Method), j.Status, brokenOf(j))
		}
		return j, err
	}
	small, trials, err := experiment.Shrink(ctx, x, runner, maxRuns, o.Load.Duration, o.Load.Seed)
	if errors.Is(err, experiment.ErrNothingToShrink) {
		fmt.Fprintln(stdout, "edload: the experiment broke no invariant: nothing to shrink")
		return nil
	}
	if err != nil {
		return experimentError(ctx, err)
	}
	path := filepath.Join(f.out, "shrunk.yaml")
	if err := os.MkdirAll(f.out, 0o750); err != nil {
		return err
	}
	if err := small.WriteFile(path); err != nil {
		return err
	}
	first := trials[0].Method
	fmt.Fprintf(stdout, "shrunk in %d runs: from %d fault(s), %s held, to %d fault(s), %s held, still breaking %v\n",
		len(trials), len(first), held(first), len(small.Method), held(small.Method), trials[0].Broken)
	fmt.Fprintf(stdout, "replay:  edload chaos run %s --seed %d --dedup=%v\n", path, f.seed, f.dedup)
	return errBroken
}

func held(m []experiment.Step) time.Duration {
	var d time.Duration
	for _, s := range m {
		d += s.Hold
	}
	return d
}

func brokenOf(j *experiment.Journal) []string {
	var out []string
	for _, v := range j.Invariants {
		if !v.OK {
			out = append(out, v.Invariant)
		}
	}
	return out
}

type chaosFlags struct {
	broker  string
	seed    int64
	out     string
	replace bool
	dedup   bool
	quiesce time.Duration
}

func newChaosRunCmd(stdout, stderr io.Writer, systems []harness.System) *cobra.Command {
	f := &chaosFlags{}
	cmd := &cobra.Command{
		Use:   "run EXPERIMENT.yaml",
		Short: "Run a chaos experiment file under load and judge it",
		Long: `chaos run runs the experiment's system (a system edload knows, or a black-box
workload file) under its load on its broker, injects the method's faults (or a
nemesis drawn from --seed), heals every one of them whatever happens, and judges:
the steady-state hypothesis before the first fault, each fault's recovery
(hypothesis back within the recovery time, the lag's peak and drain) and
every invariant of the run. It writes experiment.json (the journal) beside
the run's report in --out and prints the command that replays it.`,
		Example: `  edload chaos run docs/experiments/shop-kill.yaml
  edload chaos run docs/experiments/shop-kill.yaml --dedup=false   # exits 1: duplicate effects after the restart`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{fmt.Errorf("chaos run takes one experiment file, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return chaosRun(cmd.Context(), f, args[0], stdout, stderr, systems)
		},
	}
	f.add(cmd)
	return cmd
}

func (f *chaosFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.broker, "broker", "", "run on this broker kind instead of the file's (kafka, nats, rabbitmq, redis), with the file's\n"+
		"durable and proxied settings")
	fl.Int64Var(&f.seed, "seed", 1, "seed for keys and a nemesis's schedule; the same seed replays the same experiment")
	fl.StringVar(&f.out, "out", "runs/chaos", "directory for experiment.json, report.json, junit.xml and the history")
	fl.BoolVar(&f.replace, "replace", true, "replace the run already in --out")
	fl.BoolVar(&f.dedup, "dedup", true, "tell the system to deduplicate deliveries (its inbox)")
	fl.DurationVar(&f.quiesce, "quiesce-timeout", 60*time.Second, "how long to wait for the system to settle after the load")
}

// chaosRun is edload chaos run.
func chaosRun(ctx context.Context, f *chaosFlags, file string, stdout, stderr io.Writer, systems []harness.System) error {
	x, sys, o, err := prepare(f, file, systems)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "edload: experiment %q on %s: %d fault(s), load %s for %s\n", reports.Clean(x.Title), sys.Name(), max(len(x.Method), 1), x.Load.Rate, o.Load.Duration)
	j, rep, err := experiment.Run(ctx, x, sys, o)
	if err != nil {
		return experimentError(ctx, err)
	}
	j.Replay = o.Command
	if err := j.Write(f.out); err != nil {
		return err
	}
	printJournal(stdout, j, rep, f.out)
	if !j.OK() {
		return errBroken
	}
	return nil
}

// prepare parses the experiment, resolves its system and builds the run
// options from the flags.
func prepare(f *chaosFlags, file string, systems []harness.System) (*experiment.Experiment, harness.System, harness.Options, error) {
	x, err := experiment.ParseFile(file)
	if err != nil {
		return nil, nil, harness.Options{}, &inputError{err}
	}
	x.Load.Seed = f.seed
	if f.broker != "" {
		x.Broker.Kind, x.BrokerSet = f.broker, true
		if err := x.Broker.Validate(); err != nil {
			return nil, nil, harness.Options{}, &usageError{fmt.Errorf("--broker: %w", err)}
		}
	}
	sys, base, err := experimentSystem(x, systems)
	if err != nil {
		return nil, nil, harness.Options{}, err
	}
	base.Out, base.Replace, base.Dedup, base.Quiesce = f.out, f.replace, f.dedup, f.quiesce
	base.NoFault, base.MinRate = true, 0
	base.Command = "edload chaos run " + file + fmt.Sprintf(" --seed %d --dedup=%v", f.seed, f.dedup)
	if f.broker != "" {
		base.Command += " --broker " + f.broker
	}
	o, err := x.Options(base)
	if err != nil {
		return nil, nil, harness.Options{}, &inputError{err}
	}
	o.Load.Seed = f.seed
	return x, sys, o, nil
}

// experimentSystem is the experiment's system and the options it starts
// from: a known system's defaults, or a workload's own.
func experimentSystem(x *experiment.Experiment, systems []harness.System) (harness.System, harness.Options, error) {
	if x.Workload != "" {
		w, err := blackbox.ParseFile(x.Workload)
		if err != nil {
			return nil, harness.Options{}, &inputError{err}
		}
		o, err := w.Options()
		if err != nil {
			return nil, harness.Options{}, &inputError{err}
		}
		return blackbox.New(w), o, nil
	}
	for _, s := range systems {
		if s.Name() == x.System {
			return s, harness.Options{Broker: harness.Broker{Kind: harness.BrokerKafka, Partitions: 4}}, nil
		}
	}
	return nil, harness.Options{}, &inputError{fmt.Errorf("%s: system %q: want one of %s", x.File, x.System, strings.Join(systemNames(systems), ", "))}
}

// experimentError is runError, with a method the broker cannot take as
// bad input (exit 2) rather than bad usage.
func experimentError(ctx context.Context, err error) error {
	if errors.Is(err, experiment.ErrBadMethod) {
		return &inputError{err}
	}
	return runError(ctx, err)
}

// printJournal prints the experiment's verdict, then the run's summary.
func printJournal(w io.Writer, j *experiment.Journal, rep *reports.Run, dir string) {
	verdict := "COMPLETED"
	if !j.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "edkit experiment %s: %s\n", reports.Clean(j.Title), verdict)
	printProbes(w, "steady state before", j.Before)
	for _, f := range j.Faults {
		rec := "not recovered"
		if f.Recovered {
			rec = fmt.Sprintf("recovered %s after the heal", f.RecoveredAfter.Round(time.Millisecond))
		}
		drain := "lag not drained"
		if f.Drained {
			drain = fmt.Sprintf("drained %s after", f.DrainedAfter.Round(time.Millisecond))
		}
		fmt.Fprintf(w, "\nfault %s: injected at %s, healed at %s; %s; lag peak %d, %s\n", reports.Clean(f.Fault),
			f.Injected.Round(time.Millisecond), f.Healed.Round(time.Millisecond), rec, f.LagPeak, drain)
		printProbes(w, "  while held", f.During)
	}
	printProbes(w, "\nsteady state after", j.After)
	for _, p := range j.Problems {
		fmt.Fprintf(w, "  FAIL  %s\n", reports.Clean(p))
	}
	printPlaced(w, j.Invariants)
	fmt.Fprintf(w, "journal: %s\nreplay:  %s\n\n", filepath.Join(dir, experiment.JournalFile), reports.Clean(j.Replay))
	_ = reports.WriteSummary(w, rep)
}

func printProbes(w io.Writer, title string, ps []experiment.Probe) {
	fmt.Fprintf(w, "%s\n", title)
	for _, p := range ps {
		s := "PASS"
		if !p.OK {
			s = "FAIL"
		}
		fmt.Fprintf(w, "  %-4s  %s %s (worst %s at %s)\n", s, p.Probe, p.Limit, p.Worst, p.At.Round(time.Millisecond))
	}
}

// printPlaced puts broken invariants' anomalies on the fault timeline.
func printPlaced(w io.Writer, vs []experiment.Verdict) {
	for _, v := range vs {
		if v.OK {
			continue
		}
		for _, a := range v.Anomalies {
			where := "before any fault"
			switch {
			case a.While:
				where = "while " + a.Fault + " was held"
			case a.Fault != "":
				where = fmt.Sprintf("%s after %s was healed", a.SinceHeal.Round(time.Millisecond), a.Fault)
			}
			fmt.Fprintf(w, "        at %s, %s: %s\n", a.At.Round(time.Millisecond), reports.Clean(where), reports.Clean(a.Summary))
		}
	}
}
