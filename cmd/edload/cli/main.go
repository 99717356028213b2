// Package cli is the edload command line as a library: a user's own
// binary registers its systems with it, the way xk6 builds a k6 with
// extensions —
//
//	func main() { os.Exit(cli.Main(bank.New(bank.Config{}))) }
//
// and `edload run --system bank` then drives the user's system through the
// run core (harness.Run). cmd/edload is the same with the reference shop.
//
// Exit codes: 0 every invariant and threshold held; 1 an invariant or
// threshold broke; 2 bad usage or bad input; 3 the environment could not be
// started; 130 interrupted (after cleanup).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/reports"
)

// Exit codes, as DESIGN.md fixes them.
const (
	exitOK          = 0
	exitBroken      = 1
	exitUsage       = 2
	exitEnvironment = 3
	exitInterrupted = 130
)

// usageError is bad usage: a flag or argument the command cannot take.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// envError means the environment (brokers, stores) could not be started.
type envError struct{ err error }

func (e *envError) Error() string { return "environment: " + e.err.Error() }
func (e *envError) Unwrap() error { return e.err }

// errBroken means the run completed and found a broken invariant or
// threshold; the report already says which.
var errBroken = errors.New("an invariant or threshold broke")

// Main runs edload on the process's arguments with systems available to
// `edload run --system NAME` (the first is the default) and returns the
// exit code; Ctrl-C and SIGTERM cancel the run, which cleans up first.
func Main(systems ...harness.System) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, os.Args[1:], os.Stdout, os.Stderr, systems...)
}

// printErr writes err after "edload: ", each line redacted and cleaned:
// errors quote URLs, file contents and broker replies, so a password or an
// escape sequence in one must not reach the terminal or a CI log.
func printErr(w io.Writer, err error) {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = reports.Clean(reports.Redact(l))
	}
	fmt.Fprintln(w, "edload: "+strings.Join(lines, "\n"))
}

// Execute runs edload with args and maps its outcome to an exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer, systems ...harness.System) int {
	root, err := newRoot(stdout, stderr, systems)
	if err != nil {
		printErr(stderr, err)
		return exitUsage
	}
	root.SetArgs(args)
	err = root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "edload: interrupted; everything started was stopped")
		return exitInterrupted
	case errors.Is(err, errBroken):
		return exitBroken
	}
	if errors.Is(err, env.ErrBadSpec) { // bad input, though it surfaced while starting
		printErr(stderr, err)
		return exitUsage
	}
	var envErr *envError
	if errors.As(err, &envErr) {
		printErr(stderr, err)
		return exitEnvironment
	}
	var input *inputError
	if errors.As(err, &input) {
		printErr(stderr, err)
		return exitUsage
	}
	var usage *usageError
	if errors.As(err, &usage) || isFlagError(err) {
		printErr(stderr, err)
		fmt.Fprintln(stderr, "Run 'edload --help' for usage.")
		return exitUsage
	}
	printErr(stderr, err)
	return exitBroken
}

// ExitCodes is the exit code table, the same in --help and the README
// (TestExitCodesDocumented keeps them so).
const ExitCodes = `Exit codes:
  0    every invariant and threshold held
  1    an invariant or threshold broke
  2    bad usage or bad input (a flag, a file, a path)
  3    the environment could not be started
  130  interrupted (after cleanup)`

// flagError marks errors cobra reports for bad flags and arguments; cobra
// returns them as plain errors, so SetFlagErrorFunc wraps them.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }

func isFlagError(err error) bool {
	var fe *flagError
	return errors.As(err, &fe)
}

func newRoot(stdout, stderr io.Writer, systems []harness.System) (*cobra.Command, error) {
	root := &cobra.Command{
		Use:           "edload",
		Short:         "Load, consistency gates and chaos for event-driven systems",
		Long:          "Load, consistency gates and chaos for event-driven systems.\n\n" + ExitCodes,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())}
			}
			fmt.Fprintln(stderr, c.UsageString())
			return &usageError{errors.New("a command is required")}
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprintln(stderr, c.UsageString())
		return &flagError{err}
	})
	run, err := newRunCmd(stdout, stderr, systems)
	if err != nil {
		return nil, err
	}
	root.AddCommand(run, newCheckCmd(stdout, stderr, systems), newScenarioCmd(stdout, stderr, systems), newEnvCmd(stdout, stderr), newDLQCmd(stdout, stderr),
		newNewCmd(stdout, systems))
	root.AddCommand(newSchemaCmd(stdout, stderr))
	root.AddCommand(newChaosCmd(stdout, stderr, systems))
	root.AddCommand(newCompareCmd(stdout))
	root.AddCommand(newBenchCmd(stdout, stderr))
	return root, nil
}
