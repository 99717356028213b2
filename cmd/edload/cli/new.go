package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/cmd/edload/scaffold"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/scenarios"
)

// newNewCmd is `edload new KIND NAME`: a skeleton and its given/when/then
// test, written into the user's module, or a scenario file for one of
// systems.
func newNewCmd(stdout io.Writer, systems []harness.System) *cobra.Command {
	var dir, pkg, system string
	cmd := &cobra.Command{
		Use:   "new KIND NAME",
		Short: "Write a compiling aggregate, projection or saga with its given/when/then test, or a scenario file",
		Long: `new writes NAME.go and NAME_test.go (lower-cased) into --dir: an aggregate (a cqrs.Decider),
a saga (a saga.Definition with a deadline) or a projection, and a test of it on edkit's fixtures
(scenarios/fixture) that passes as written.

new scenario NAME writes NAME.yaml (lower-case letters, digits and dashes) into --dir
(default scenarios): a scenario file for --system that edload scenario parses and runs, with
its setup, one command of the system's types and every kind of step and expectation explained.
Existing files are never overwritten.`,
		Example: "  edload new aggregate Account --dir internal/bank\n  edload new saga Transfer --package bank\n" +
			"  edload new scenario payment-declined --system shop",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return &usageError{fmt.Errorf("new takes a kind (%s) and a name", strings.Join(scaffold.Kinds, ", "))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == scaffold.KindScenario {
				return newScenario(cmd, stdout, systems, dir, args[1], system)
			}
			if cmd.Flags().Changed("system") {
				return &usageError{fmt.Errorf("--system applies to new %s only", scaffold.KindScenario)}
			}
			if dir == "" {
				dir = "."
			}
			files, err := scaffold.Write(dir, args[0], args[1], pkg)
			if errors.Is(err, scaffold.ErrBadInput) || errors.Is(err, scaffold.ErrExists) {
				return &usageError{err}
			}
			for _, f := range files {
				fmt.Fprintf(stdout, "wrote %s\n", f)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the directory to write into (default: . for Go code, scenarios for a scenario)")
	cmd.Flags().StringVar(&pkg, "package", "", "the Go package name (default: that of the Go files in --dir, else its name)")
	cmd.Flags().StringVar(&system, "system", firstSpeaker(systems),
		"new scenario: the system whose types the file names: "+strings.Join(systemNames(systems), ", "))
	return cmd
}

// newScenario writes a scenario file for the system named: with its
// Vocabulary when it is a scenarios.Speaker, else (or when the binary has
// none) a file that only lets time pass.
func newScenario(cmd *cobra.Command, stdout io.Writer, systems []harness.System, dir, name, system string) error {
	if cmd.Flags().Changed("package") {
		return &usageError{fmt.Errorf("--package applies to Go code, not new %s", scaffold.KindScenario)}
	}
	if dir == "" {
		dir = "scenarios"
	}
	var vocab *scenarios.Vocabulary
	if system != "" || cmd.Flags().Changed("system") {
		i := -1
		for j, s := range systems {
			if s.Name() == system {
				i = j
				break
			}
		}
		if i < 0 {
			return &usageError{fmt.Errorf("--system %q: want one of %s", system, strings.Join(systemNames(systems), ", "))}
		}
		if sp, ok := systems[i].(scenarios.Speaker); ok {
			vocab = sp.Vocabulary()
		}
	}
	path, err := scaffold.WriteScenario(dir, name, system, vocab)
	if errors.Is(err, scaffold.ErrBadInput) || errors.Is(err, scaffold.ErrExists) {
		return &usageError{err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	return nil
}

// firstSpeaker is the first of systems with scenario files, as `edload
// scenario` defaults to; "" when none has.
func firstSpeaker(systems []harness.System) string {
	for _, s := range systems {
		if _, ok := s.(scenarios.Speaker); ok {
			return s.Name()
		}
	}
	return ""
}
