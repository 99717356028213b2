package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/edkit-dev/edkit/cmd/edload/shopsystem"
	"github.com/edkit-dev/edkit/harness"
)

// flagged is a system that adds a flag of its own.
type flagged struct {
	name, flag string
}

func (s flagged) Name() string { return s.name }
func (s flagged) Start(context.Context, *harness.Env) (harness.Instance, error) {
	return nil, context.Canceled
}
func (s flagged) AddFlags(fs *pflag.FlagSet) { fs.String(s.flag, "", "test flag") }

// TestSystemRegistration covers what a user's binary can get wrong when it
// registers systems with Main: each mistake is bad usage (exit 2) with a
// message naming it.
func TestSystemRegistration(t *testing.T) {
	shop := shopsystem.New(shopsystem.Config{})
	tests := []struct {
		name    string
		systems []harness.System
		args    []string
		want    string
	}{
		{"unknown --system", []harness.System{shop}, []string{"run", "--system", "bank"}, `--system "bank": want one of shop`},
		{"flag clash with edload", []harness.System{shop, flagged{"x", "rate"}}, []string{"run"}, "system x: flag --rate is taken"},
		{"flag clash between systems", []harness.System{shop, flagged{"x", "decline-every"}}, []string{"run"}, "flag --decline-every is taken"},
		{"two systems, one name", []harness.System{shop, flagged{"shop", "other"}}, []string{"run"}, `two systems are named "shop"`},
		{"no system at all", nil, []string{"run"}, `--system "": want one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Execute(t.Context(), tt.args, &out, &errOut, tt.systems...); code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("stderr lacks %q:\n%s", tt.want, errOut.String())
			}
		})
	}
}
