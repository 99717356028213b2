package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reports"
	"github.com/edkit-dev/edkit/scenarios"
)

func newScenarioCmd(stdout, stderr io.Writer) *cobra.Command {
	var broker, out string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "scenario FILE|DIR...",
		Short: "Run given/when/then scenario files against the reference shop",
		Long: `scenario parses every scenario file named (a directory means its *.yaml
files), then runs each scenario against the shop on the chosen broker. A
malformed file is reported as file:line:column and nothing runs (exit 2).
A scenario whose expectation fails prints the message sequence it saw
(exit 1). With --out, junit.xml and report.json get one case per scenario.`,
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
			files, err := scenarioFiles(args)
			if err != nil {
				return &usageError{err}
			}
			// Parse everything first: a bad file stops the run before any
			// broker starts.
			var all []*scenarios.Scenario
			var bad []error
			for _, f := range files {
				scs, err := scenarios.LoadFile(f)
				if err != nil {
					bad = append(bad, err)
					continue
				}
				all = append(all, scs...)
			}
			if len(bad) > 0 {
				for _, err := range bad {
					fmt.Fprintln(stderr, err)
				}
				return &inputError{fmt.Errorf("%d of %d scenario files are malformed", len(bad), len(files))}
			}
			var target scenarios.Target = scenarios.InMemory()
			if broker == "kafka" {
				e, err := embedded.StartKafka(cmd.Context())
				if err != nil {
					return &envError{err}
				}
				// Teardown like startBus's: the outcomes are already
				// decided and printed; a stop error changes none of them.
				defer func() { _ = e.Close() }()
				target = scenarios.Kafka(e.Component("kafka").Endpoint().Addrs)
			}
			rep := &reports.Run{Name: "scenarios", Config: []reports.KV{{Key: "broker", Value: broker}}}
			failed := 0
			for _, sc := range all {
				o, err := scenarios.Run(cmd.Context(), sc, target, scenarios.WithTimeout(timeout))
				if err != nil {
					if cmd.Context().Err() != nil {
						return cmd.Context().Err()
					}
					return fmt.Errorf("scenario %q: %w", sc.Name, err)
				}
				if !o.Passed() {
					failed++
				}
				fmt.Fprint(stdout, o.String())
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

// scenarioFiles expands directories to their *.yaml files, sorted.
func scenarioFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		matches, err := filepath.Glob(filepath.Join(a, "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			files = append(files, a)
			continue
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	return files, nil
}

// scenarioResult turns an outcome into a report verdict, so JUnit shows one
// case per scenario with the transcript on failure.
func scenarioResult(o *scenarios.Outcome) check.Result {
	r := check.Result{Invariant: "scenario: " + o.Scenario, Valid: o.Passed(), Checked: len(o.Results)}
	if !o.Passed() {
		r.Anomalies = []check.Anomaly{{Invariant: r.Invariant, Summary: o.String()}}
	}
	return r
}
