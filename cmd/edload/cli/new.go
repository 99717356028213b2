package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/cmd/edload/scaffold"
)

// newNewCmd is `edload new KIND NAME`: a skeleton and its given/when/then
// test, written into the user's module.
func newNewCmd(stdout io.Writer) *cobra.Command {
	var dir, pkg string
	cmd := &cobra.Command{
		Use:   "new KIND NAME",
		Short: "Write a compiling " + strings.Join(scaffold.Kinds, ", ") + " skeleton with its given/when/then test",
		Long: `new writes NAME.go and NAME_test.go (lower-cased) into --dir: an aggregate (a cqrs.Decider),
a saga (a saga.Definition with a deadline) or a projection, and a test of it on edkit's fixtures
(scenarios/fixture) that passes as written. Existing files are never overwritten.`,
		Example: "  edload new aggregate Account --dir internal/bank\n  edload new saga Transfer --package bank",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return &usageError{fmt.Errorf("new takes a kind (%s) and a name", strings.Join(scaffold.Kinds, ", "))}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
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
	cmd.Flags().StringVar(&dir, "dir", ".", "the directory of the package to write into")
	cmd.Flags().StringVar(&pkg, "package", "", "the Go package name (default: that of the Go files in --dir, else its name)")
	return cmd
}
