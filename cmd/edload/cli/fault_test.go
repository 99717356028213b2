package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestFaultFlagValidation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown kind", []string{"--fault", "explode"}, `"explode" is not a fault`},
		{"unknown in a list", []string{"--fault", "drop,explode"}, `"explode" is not a fault`},
		{"twice", []string{"--fault", "drop,drop"}, "drop named twice"},
		{"none in a list", []string{"--fault", "none,drop"}, `"none" is not a fault`},
		{"bad rate", []string{"--fault", "drop", "--drop-rate", "1.5"}, "drop fraction 1.5"},
		{"reorder without hold", []string{"--fault", "reorder", "--max-hold", "0"}, "max hold is 0"},
		// Load shape flags, beside the fault flags they combine with.
		{"zipf skew at most 1", []string{"--key-dist", "zipf:0.5"}, `--key-dist "zipf:0.5"`},
		{"unknown key distribution", []string{"--key-dist", "gauss"}, `--key-dist "gauss"`},
		{"more hot keys than keys", []string{"--key-dist", "hot:0.9/100", "--keys", "10"}, "hot keys 100 above keys 10"},
		{"keys beyond the bound", []string{"--keys", "1000000000"}, "--keys 1000000000: want 1 to 10000000"},
		{"warm-up as long as the run", []string{"--duration", "5s", "--warm-up", "5s"}, "--warm-up 5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"run", "--broker", "memory", "--out", t.TempDir()}, tt.args...)
			if code := execute(context.Background(), args, &out, &errOut); code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("stderr lacks %q:\n%s", tt.want, errOut.String())
			}
		})
	}
}

func TestParseFaults(t *testing.T) {
	for _, s := range []string{"none", "duplicate", "drop", "reorder", "corrupt", "duplicate, drop,reorder,corrupt"} {
		if _, err := parseFaults(s); err != nil {
			t.Errorf("parseFaults(%q): %v", s, err)
		}
	}
}

// TestDropFaultBreaksLoss is the gate proving the loss invariant can fail
// from the CLI: dropped deliveries are acked unhandled, so the run exits 1
// naming no-acknowledged-loss. The clean side is TestDedupGate's passing
// runs with the same shop.
func TestDropFaultBreaksLoss(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	args := []string{"run", "--broker", "memory", "--duration", "1s", "--rate", "40",
		"--fault", "drop", "--drop-rate", "0.2", "--min-rate", "0.3", "--out", dir,
		// Dropped commands never settle: do not wait long for them.
		"--quiesce-timeout", "2s"}
	code := execute(context.Background(), args, &out, &errOut)
	if code != exitBroken {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitBroken, out.String(), errOut.String())
	}
	var failed []string
	for _, c := range readJUnit(t, dir).Cases {
		if c.Failure != nil {
			failed = append(failed, c.Name)
		}
	}
	found := false
	for _, name := range failed {
		found = found || strings.Contains(name, "no-acknowledged-loss")
	}
	if !found {
		t.Fatalf("failed cases %v lack no-acknowledged-loss\n%s", failed, out.String())
	}
	if !strings.Contains(out.String(), "dropped deliveries") {
		t.Fatalf("summary does not count dropped deliveries:\n%s", out.String())
	}
}
