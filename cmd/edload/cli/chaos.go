package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	cmd.AddCommand(newChaosRunCmd(stdout, stderr, systems))
	return cmd
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
	fl := cmd.Flags()
	fl.StringVar(&f.broker, "broker", "", "run on this broker kind instead of the file's (kafka, nats, rabbitmq, redis), with the file's\n"+
		"durable and proxied settings")
	fl.Int64Var(&f.seed, "seed", 1, "seed for keys and a nemesis's schedule; the same seed replays the same experiment")
	fl.StringVar(&f.out, "out", "runs/chaos", "directory for experiment.json, report.json, junit.xml and the history")
	fl.BoolVar(&f.replace, "replace", true, "replace the run already in --out")
	fl.BoolVar(&f.dedup, "dedup", true, "tell the system to deduplicate deliveries (its inbox)")
	fl.DurationVar(&f.quiesce, "quiesce-timeout", 60*time.Second, "how long to wait for the system to settle after the load")
	return cmd
}

// chaosRun parses the experiment, resolves its system, runs and reports it.
func chaosRun(ctx context.Context, f *chaosFlags, file string, stdout, stderr io.Writer, systems []harness.System) error {
	x, err := experiment.ParseFile(file)
	if err != nil {
		return &inputError{err}
	}
	x.Load.Seed = f.seed
	if f.broker != "" {
		x.Broker.Kind, x.BrokerSet = f.broker, true
		if err := x.Broker.Validate(); err != nil {
			return &usageError{fmt.Errorf("--broker: %w", err)}
		}
	}
	sys, base, err := experimentSystem(x, systems)
	if err != nil {
		return err
	}
	base.Out, base.Replace, base.Dedup, base.Quiesce = f.out, f.replace, f.dedup, f.quiesce
	base.NoFault, base.MinRate = true, 0
	base.Command = "edload chaos run " + file + fmt.Sprintf(" --seed %d --dedup=%v", f.seed, f.dedup)
	if f.broker != "" {
		base.Command += " --broker " + f.broker
	}
	o, err := x.Options(base)
	if err != nil {
		return &inputError{err}
	}
	o.Load.Seed = f.seed
	fmt.Fprintf(stderr, "edload: experiment %q on %s: %d fault(s), load %s for %s\n", reports.Clean(x.Title), sys.Name(), max(len(x.Method), 1), x.Load.Rate, o.Load.Duration)
	j, rep, err := experiment.Run(ctx, x, sys, o)
	if err != nil {
		return experimentError(ctx, err)
	}
	j.Replay = base.Command
	if err := j.Write(f.out); err != nil {
		return err
	}
	printJournal(stdout, j, rep, f.out)
	if !j.OK() {
		return errBroken
	}
	return nil
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
