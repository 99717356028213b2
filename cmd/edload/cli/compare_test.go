package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompare: two clean runs of the echo system pass against each other;
// a run slowed by a delay fault (half the deliveries held up to 40 ms) is
// flagged as an end-to-end regression, exit 1, in the table and in the
// Markdown.
func TestCompare(t *testing.T) {
	dir := t.TempDir()
	run := func(name string, args ...string) string {
		out := filepath.Join(dir, name)
		var o, e bytes.Buffer
		args = append([]string{"run", "--system", "echo", "--broker", "memory", "--duration", "2s", "--rate", "200",
			"--out", out}, args...)
		if code := execute(t.Context(), args, &o, &e); code != exitOK {
			t.Fatalf("%s: exit %d\n%s%s", name, code, o.String(), e.String())
		}
		return out
	}
	base := run("base", "--fault", "none")
	clean := run("clean", "--fault", "none")
	slow := run("slow", "--fault", "duplicate", "--dup-rate", "0", "--delay-rate", "0.5", "--max-delay", "40ms")
	// The median, not the p99: two seconds of a loaded CI machine move a p99
	// fivefold between clean runs, and the delay fault moves the median a
	// thousandfold.
	limits := "--max-regress=e2e.p50=+200%,throughput=-10%"
	compare := func(a, b string, md string) (int, string) {
		var o, e bytes.Buffer
		code := execute(t.Context(), []string{"compare", a, b, limits, "--markdown", md}, &o, &e)
		return code, o.String() + e.String()
	}
	if code, out := compare(base, clean, filepath.Join(dir, "clean.md")); code != exitOK {
		t.Fatalf("two clean runs: exit %d\n%s", code, out)
	}
	md := filepath.Join(dir, "slow.md")
	code, out := compare(base, slow, md)
	if code != exitBroken || !strings.Contains(out, "e2e.p50") || !strings.Contains(out, "REGRESSED") {
		t.Fatalf("a slowed run: exit %d\n%s", code, out)
	}
	b, err := os.ReadFile(md)
	if err != nil || !strings.Contains(string(b), "| e2e.p50 |") || !strings.Contains(string(b), "REGRESSED") {
		t.Fatalf("markdown %v:\n%s", err, b)
	}
	var e bytes.Buffer
	if code := execute(t.Context(), []string{"compare", base, slow, "--max-regress", "e2e.p99=-5%"}, &e, &e); code != exitUsage {
		t.Fatalf("a latency limit the wrong way round: exit %d\n%s", code, e.String())
	}
}
