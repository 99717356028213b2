package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/harness/schema"
	"github.com/edkit-dev/edkit/reports"
)

// schemaFlags are the settings of `edload schema check`.
type schemaFlags struct {
	mode       string
	transitive bool
	strict     bool
	verbose    bool
}

// newSchemaCmd is `edload schema check`: event-schema compatibility, for
// CI, by the Confluent Schema Registry's rules (package schema).
func newSchemaCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &schemaFlags{}
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Check that event schemas (JSON Schema) evolve compatibly",
		Long: `schema check compares JSON Schema documents (JSON or YAML) the way the
Confluent Schema Registry does for JSON Schema subjects, and names each
difference as the registry does (REQUIRED_ATTRIBUTE_ADDED, ...).`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(stderr, c.UsageString())
			return &usageError{errors.New("schema needs a subcommand: check")}
		},
	}
	check := &cobra.Command{
		Use:   "check (OLD NEW | DIR)",
		Short: "Check that NEW may follow OLD, or each version in DIR the one before",
		Long: `check OLD NEW decides whether the schema NEW may follow OLD under --mode:
backward (consumers using NEW can read data written with OLD; the default),
forward (consumers using OLD can read data written with NEW) or full (both).
It prints each incompatibility with the JSON pointer of its place in the
newer schema, the registry's name for it and a reason.

check DIR checks a directory of versioned schemas named NAME.v1.json,
NAME.v2.json, ... (or .yaml): each subject's versions in numeric order, each
against the one before, or with --transitive against every earlier one (the
registry's *_TRANSITIVE modes).

A construct the check does not analyse (not, if/then/else, tuples, ...) is
printed as "not analysed", never passed silently; --strict fails on it.

Exit codes: 0 compatible; 1 incompatible; 2 bad usage or a bad schema file
(file:line:column).`,
		Example: `  edload schema check schemas/order.v1.json schemas/order.v2.json
  edload schema check --mode full schemas/
  edload schema check --mode backward --transitive schemas/`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return &usageError{fmt.Errorf("schema check takes OLD NEW (two schema files) or DIR (a directory of versions), got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			return runSchemaCheck(stdout, f, args)
		},
	}
	fl := check.Flags()
	fl.StringVar(&f.mode, "mode", "backward", "compatibility mode: backward, forward or full")
	fl.BoolVar(&f.transitive, "transitive", false, "with DIR: check each version against every earlier one, not only the one before")
	fl.BoolVar(&f.strict, "strict", false, "fail (exit 1) when part of a schema is not analysed")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "also print the compatible changes")
	cmd.AddCommand(check)
	return cmd
}

func runSchemaCheck(stdout io.Writer, f *schemaFlags, args []string) error {
	mode, err := schema.ParseMode(f.mode)
	if err != nil {
		return &usageError{fmt.Errorf("--mode %s: want backward, forward or full", strconv.Quote(f.mode))}
	}
	p := &schemaPrinter{w: stdout, strict: f.strict, verbose: f.verbose}
	if len(args) == 1 {
		fi, err := os.Stat(args[0])
		if err != nil {
			return &inputError{err}
		}
		if !fi.IsDir() {
			return &usageError{fmt.Errorf("%s is a file: schema check takes OLD NEW (two schema files) or DIR (a directory of versions)", strconv.Quote(args[0]))}
		}
		reps, err := schema.CheckDir(args[0], mode, f.transitive)
		if err != nil {
			return &inputError{err}
		}
		broken := 0
		for _, r := range reps {
			name := fmt.Sprintf("%s v%d -> v%d", strconv.Quote(r.Subject), r.Old.Number, r.New.Number)
			if !p.report(name, r.Report) {
				broken++
			}
		}
		fmt.Fprintf(stdout, "%d pairs checked, %d incompatible\n", len(reps), broken)
		if broken > 0 {
			return errBroken
		}
		return nil
	}
	if f.transitive {
		return &usageError{errors.New("--transitive applies to a directory of versions (schema check DIR), not to two files")}
	}
	older, err1 := schema.Load(args[0])
	newer, err2 := schema.Load(args[1])
	if err := errors.Join(err1, err2); err != nil {
		return &inputError{err}
	}
	if !p.report(strconv.Quote(args[0])+" -> "+strconv.Quote(args[1]), schema.Compatible(older, newer, mode)) {
		return errBroken
	}
	return nil
}

// schemaPrinter prints compatibility reports, one line per finding.
type schemaPrinter struct {
	w       io.Writer
	strict  bool
	verbose bool
}

// report prints one check and reports whether it passed.
func (p *schemaPrinter) report(name string, r schema.Report) bool {
	bad := r.Incompatible()
	ok := len(bad) == 0 && (!p.strict || len(r.Notes) == 0)
	verdict := "compatible"
	if !ok {
		verdict = "INCOMPATIBLE"
	}
	counts := fmt.Sprintf("%d incompatible, %d compatible, %d not analysed", len(bad), len(r.Differences)-len(bad), len(r.Notes))
	p.line(fmt.Sprintf("%s (%v): %s (%s)", name, r.Mode, verdict, counts))
	dir := func(d schema.Mode) string {
		if r.Mode == schema.Full {
			return "[" + d.String() + "] "
		}
		return ""
	}
	for _, d := range r.Differences {
		if d.Compatible && !p.verbose {
			continue
		}
		mark := "incompatible"
		if d.Compatible {
			mark = "compatible"
		}
		p.line(fmt.Sprintf("  %s %s%s at %s%s: %s", mark, dir(d.Direction), d.Kind, schema.ShowPointer(d.Pointer), older(d.Pointer, d.OldPointer), d.Reason))
	}
	for _, n := range r.Notes {
		p.line(fmt.Sprintf("  not analysed %sat %s%s: %s", dir(n.Direction), schema.ShowPointer(n.Pointer), older(n.Pointer, n.OldPointer), n.Reason))
	}
	return ok
}

// older names the place in the older schema when it is elsewhere.
func older(newer, old string) string {
	if old == newer {
		return ""
	}
	return " (older: " + schema.ShowPointer(old) + ")"
}

// line prints one line; what it holds from a schema file is quoted
// already, and Clean is the guard for anything that was not.
func (p *schemaPrinter) line(s string) {
	fmt.Fprintln(p.w, reports.Clean(s))
}
