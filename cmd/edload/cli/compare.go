package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/harness/yamlfile"
	"github.com/edkit-dev/edkit/reports"
)

func newCompareCmd(stdout io.Writer) *cobra.Command {
	var limits string
	var mdOut string
	cmd := &cobra.Command{
		Use:   "compare BASE NEW",
		Short: "Compare two runs' reports; exit 1 on a regression beyond the limits",
		Long: `compare holds run NEW against run BASE (run directories or report.json files)
on throughput and end-to-end and send latencies, prints each change with the
run-to-run noise measured in the two runs' own series, and exits 1 when a
metric moved the wrong way by more than its --max-regress limit: the CI gate
against the last good run.`,
		Example: `  edload compare runs/main runs/latest --max-regress 'e2e.p99=+25%,throughput=-5%'`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return &usageError{fmt.Errorf("compare takes two runs, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			lim, err := reports.ParseLimits(limits)
			if err != nil {
				return &usageError{fmt.Errorf("--max-regress: %w", err)}
			}
			base, err := readReport(args[0])
			if err != nil {
				return &inputError{err}
			}
			next, err := readReport(args[1])
			if err != nil {
				return &inputError{err}
			}
			c, err := reports.Compare(base, next, lim)
			if err != nil {
				return &inputError{err}
			}
			return writeComparison(stdout, c, mdOut)
		},
	}
	cmd.Flags().StringVar(&limits, "max-regress", "e2e.p99=+25%,throughput=-5%", "how far each metric may move the wrong way: METRIC=±N%, comma-separated;\n"+
		"metrics throughput, e2e.p50, e2e.p99, send.p99")
	cmd.Flags().StringVar(&mdOut, "markdown", "", "also write the comparison as Markdown to this file")
	return cmd
}

func writeComparison(stdout io.Writer, c reports.RunComparison, mdOut string) error {
	if err := reports.WriteComparison(stdout, c, false); err != nil {
		return err
	}
	if mdOut != "" {
		f, err := os.Create(mdOut) //nolint:gosec // the file the user named
		if err != nil {
			return err
		}
		werr := reports.WriteComparison(f, c, true)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
	}
	if !c.OK() {
		return errBroken
	}
	return nil
}

// readReport reads a run directory's report.json, or the file named.
func readReport(path string) (*reports.Run, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, reports.JSONFile)
	}
	b, err := yamlfile.ReadFile(path, reports.MaxReport)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return reports.ReadJSON(bytes.NewReader(b), path)
}
