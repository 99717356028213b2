package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/reports"
	"github.com/edkit-dev/edkit/scenarios"
)

func newScenarioCmd(stdout, stderr io.Writer, systems []harness.System) *cobra.Command {
	var mode, out, system string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "scenario FILE|DIR...",
		Short: "Run a system's given/when/then scenario files",
		Long: `scenario parses every scenario file named (a directory means its *.yaml
files) against the types the system registers (--system; the system
implements scenarios.Speaker), then runs each through the run pipeline in
the chosen mode: memory (membus), kafka (an embedded Kafka) or faults
(memory, with duplicated and delayed deliveries). Besides its own
expectations each scenario is judged by every checker of a load run. A
malformed file is reported as file:line:column and nothing runs (exit 2). A
scenario that fails prints what did not hold and the message sequence it
saw (exit 1). With --out, junit.xml and report.json get one case per
scenario.`,
		Example: `  edload scenario scenarios/shop
  edload scenario --mode kafka scenarios/shop/payment-declined.yaml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &usageError{errors.New("scenario needs at least one file or directory")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return &usageError{fmt.Errorf("--timeout %v: want > 0, or 0 for each file's own", timeout)}
			}
			m, err := scenarios.ModeNamed(mode)
			if err != nil {
				return &usageError{fmt.Errorf("--mode: %w", err)}
			}
			sys, err := scenarioSystem(systems, system)
			if err != nil {
				return &usageError{err}
			}
			all, err := parseScenarios(args, sys, stderr)
			if err != nil {
				return err
			}
			rep, failed, err := runScenarios(cmd.Context(), sys, all, m, timeout, stdout)
			if err != nil {
				return err
			}
			if out != "" {
				if err := reports.WriteDir(out, rep); err != nil {
					return err
				}
			}
			if failed > 0 {
				return errBroken
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&system, "system", firstSpeaker(systems), "the system whose scenario files these are: "+strings.Join(systemNames(systems), ", "))
	cmd.Flags().StringVar(&mode, "mode", "memory", "memory, kafka (embedded) or faults (memory, duplicated and delayed deliveries)")
	cmd.Flags().StringVar(&out, "out", "", "directory for junit.xml and report.json (none when empty)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "how long the system may take to settle after each step (default: the file's timeout, else 10s)")
	return cmd
}

// parseScenarios parses every file first: a bad file stops the run
// before any broker starts.
func parseScenarios(args []string, sys scenarios.Speaker, stderr io.Writer) ([]*scenarios.Scenario, error) {
	files, err := scenarioFiles(args)
	if err != nil {
		return nil, &usageError{err}
	}
	var all []*scenarios.Scenario
	bad := 0
	vocab := sys.Vocabulary()
	for _, f := range files {
		sc, err := scenarios.ParseFile(f, vocab)
		if err != nil {
			printErr(stderr, err)
			bad++
			continue
		}
		all = append(all, sc)
	}
	if bad > 0 {
		return nil, &inputError{fmt.Errorf("%d of %d scenario files are malformed", bad, len(files))}
	}
	return all, nil
}

// runScenarios runs each scenario in mode m and prints its verdict.
func runScenarios(ctx context.Context, sys scenarios.Speaker, all []*scenarios.Scenario, m scenarios.Mode, timeout time.Duration,
	stdout io.Writer) (*reports.Run, int, error) {
	rep := &reports.Run{Name: "scenarios", Config: []reports.KV{{Key: "mode", Value: m.Name}}}
	failed := 0
	for _, sc := range all {
		if timeout > 0 {
			sc.Timeout = timeout
		}
		v, err := scenarios.Run(ctx, sys, sc, m)
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			return nil, 0, &envError{fmt.Errorf("scenario %q: %w", sc.Name, err)}
		}
		verdict := "PASS"
		if !v.Passed {
			failed++
			verdict = "FAIL"
		}
		fmt.Fprintf(stdout, "%s: scenario %s (%s, %s, %s)\n", verdict, strconv.Quote(sc.Name), reports.Clean(sc.File), v.Environment, v.Duration.Round(time.Millisecond))
		if !v.Passed {
			fmt.Fprint(stdout, v.Report)
		}
		rep.Duration += v.Duration
		rep.Invariants = append(rep.Invariants, scenarioResult(*v))
	}
	fmt.Fprintf(stdout, "%d scenarios, %d passed, %d failed\n", len(all), len(all)-failed, failed)
	return rep, failed, nil
}

// inputError is a malformed input file: exit 2 like bad usage, but the
// message is the file's own errors, not a usage text.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// scenarioSystem is the system named, asserted to have scenario files.
func scenarioSystem(systems []harness.System, name string) (scenarios.Speaker, error) {
	for _, s := range systems {
		if s.Name() != name {
			continue
		}
		p, ok := s.(scenarios.Speaker)
		if !ok {
			return nil, fmt.Errorf("--system %s: it has no scenario files (it does not implement scenarios.Speaker)", name)
		}
		return p, nil
	}
	if name == "" {
		return nil, errors.New("no system of this binary has scenario files (none implements scenarios.Speaker)")
	}
	return nil, fmt.Errorf("--system %q: want one of %s", name, strings.Join(systemNames(systems), ", "))
}

// scenarioFiles expands directories to their *.yaml files, sorted. Paths
// are taken literally: a file named "a[1].yaml" is that file, never a
// pattern, so what runs is what was named.
func scenarioFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil || !fi.IsDir() {
			files = append(files, a) // a missing file is the parser's error, with its name
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, err
		}
		var found []string
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
				found = append(found, filepath.Join(a, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml scenario files in the directory", a)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

// scenarioResult turns an outcome into a report verdict, so JUnit shows one
// case per scenario with the transcript on failure.
func scenarioResult(o scenarios.Verdict) check.Result {
	r := check.Result{Invariant: "scenario: " + o.Scenario, Valid: o.Passed, Checked: o.Checked}
	if !o.Passed {
		r.Anomalies = []check.Anomaly{{Invariant: r.Invariant, Summary: o.Report}}
	}
	return r
}
