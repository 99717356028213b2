package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/reports"
)

// newCheckCmd is `edload check RUN_DIR`: a recorded run judged again.
func newCheckCmd(stdout, stderr io.Writer, systems []harness.System) *cobra.Command {
	var profile, out string
	cmd := &cobra.Command{
		Use:   "check RUN_DIR",
		Short: "Judge a recorded run's history again, with the same verdicts and exit code",
		Long: `check re-judges the history a run recorded in RUN_DIR (edload run --out) the
way the run judged it (its checks.json), reading the history as a stream, so a
run of any length is judged in bounded memory. It prints the same summary and
exits with the same code as the run did, unless --profile asks for another
guarantee profile. The final-state verdicts and thresholds cannot be measured
again from a history: they are kept as the run recorded them.`,
		Example: `  edload check runs/demo
  edload check runs/demo --profile exactly-once   # would the run pass if no redelivery were permitted?`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{fmt.Errorf("check takes one run directory, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o := harness.RecheckOptions{}
			if profile != "" {
				p, err := harness.ProfileNamed(profile)
				if err != nil {
					return &usageError{fmt.Errorf("--profile: %w", err)}
				}
				o.Profile = &p
			}
			// The run's own system, when this binary has it, adds its
			// history checkers as the run did.
			c, err := harness.ReadChecks(args[0])
			if err != nil {
				return finishCheck(stdout, out, nil, err)
			}
			for _, s := range systems {
				if s.Name() == c.System {
					o.System = s
				}
			}
			rep, err := harness.Recheck(args[0], o)
			return finishCheck(stdout, out, rep, err)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&profile, "profile", "", "judge under this guarantee profile instead of the run's: at-least-once or exactly-once")
	fl.StringVar(&out, "out", "", "write the new report.json and junit.xml to this directory (default: print only)")
	return cmd
}

func finishCheck(stdout io.Writer, out string, rep *reports.Run, err error) error {
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &inputError{fmt.Errorf("%w (is it a directory edload run --out wrote?)", err)}
		}
		return &inputError{err}
	}
	if err := reports.WriteSummary(stdout, rep); err != nil {
		return err
	}
	if out != "" {
		if err := reports.WriteDir(out, rep); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report: %s\n", out)
	}
	if !rep.OK() {
		return errBroken
	}
	return nil
}
