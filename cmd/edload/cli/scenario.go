package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reports"
	"github.com/edkit-dev/edkit/scenarios"
)

func newScenarioCmd(stdout, stderr io.Writer, systems []harness.System) *cobra.Command {
	var broker, out, system string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "scenario FILE|DIR...",
		Short: "Run a system's given/when/then scenario files",
		Long: `scenario parses every scenario file named (a directory means its *.yaml
files) with the system's own scenario vocabulary (--system; the system
implements scenarios.Provider), then runs each scenario on the chosen
broker. A malformed file is reported as file:line:column and nothing runs
(exit 2). A scenario whose expectation fails prints the message sequence it
saw (exit 1). With --out, junit.xml and report.json get one case per
scenario.`,
		Example: `  edload scenario scenarios/shop
  edload scenario --broker kafka scenarios/shop/payment-declined.yaml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &usageError{errors.New("scenario needs at least one file or directory")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return &usageError{fmt.Errorf("--timeout %v: want > 0", timeout)}
			}
			if broker != "memory" && broker != "kafka" {
				return &usageError{fmt.Errorf("--broker %q: want memory or kafka", broker)}
			}
			p, err := scenarioProvider(systems, system)
			if err != nil {
				return &usageError{err}
			}
			files, err := scenarioFiles(args)
			if err != nil {
				return &usageError{err}
			}
			// Parse everything first: a bad file stops the run before any
			// broker starts.
			var all []scenarios.Case
			var bad []error
			for _, f := range files {
				scs, err := p.ParseScenarios(f)
				if err != nil {
					bad = append(bad, err)
					continue
				}
				all = append(all, scs...)
			}
			if len(bad) > 0 {
				for _, err := range bad {
					printErr(stderr, err)
				}
				return &inputError{fmt.Errorf("%d of %d scenario files are malformed", len(bad), len(files))}
			}
			on := scenarios.Broker{Kind: broker}
			if broker == "kafka" {
				e, err := embedded.StartKafka(cmd.Context())
				if err != nil {
					return &envError{err}
				}
				// Teardown like startBus's: the outcomes are already
				// decided and printed; a stop error changes none of them.
				defer func() { _ = e.Close() }()
				on.Addrs = e.Component("kafka").Endpoint().Addrs
			}
			rep := &reports.Run{Name: "scenarios", Config: []reports.KV{{Key: "broker", Value: broker}}}
			failed := 0
			for _, sc := range all {
				o, err := sc.Run(cmd.Context(), on, timeout)
				if err != nil {
					if cmd.Context().Err() != nil {
						return cmd.Context().Err()
					}
					return fmt.Errorf("scenario %q: %w", sc.Name(), err)
				}
				if !o.Passed {
					failed++
				}
				fmt.Fprint(stdout, o.Report)
				rep.Duration += o.Duration
				rep.Invariants = append(rep.Invariants, scenarioResult(o))
			}
			fmt.Fprintf(stdout, "%d scenarios, %d passed, %d failed\n", len(all), len(all)-failed, failed)
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
	def := ""
	for _, sys := range systems {
		if _, ok := sys.(scenarios.Provider); ok {
			def = sys.Name()
			break
		}
	}
	cmd.Flags().StringVar(&system, "system", def, "the system whose scenario files these are: "+strings.Join(systemNames(systems), ", "))
	cmd.Flags().StringVar(&broker, "broker", "memory", "broker: memory or kafka (embedded)")
	cmd.Flags().StringVar(&out, "out", "", "directory for junit.xml and report.json (none when empty)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long each expectation may take to hold")
	return cmd
}

// inputError is a malformed input file: exit 2 like bad usage, but the
// message is the file's own errors, not a usage text.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// scenarioProvider is the system named, asserted to have scenario files.
func scenarioProvider(systems []harness.System, name string) (scenarios.Provider, error) {
	for _, s := range systems {
		if s.Name() != name {
			continue
		}
		p, ok := s.(scenarios.Provider)
		if !ok {
			return nil, fmt.Errorf("--system %s: it has no scenario files (it does not implement scenarios.Provider)", name)
		}
		return p, nil
	}
	if name == "" {
		return nil, errors.New("no system of this binary has scenario files (none implements scenarios.Provider)")
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
