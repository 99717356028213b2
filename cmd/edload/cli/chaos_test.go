package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const loseAck = "../../../docs/experiments/echo-lose-ack.yaml"

// TestChaosRunAndShrink: the lost-ack experiment completes on a system with
// its inbox (exit 0) and fails without it (exit 1) with each duplicate
// effect placed in a lose-ack window and the replay command printed;
// chaos shrink reduces its three windows to one that still fails, in a
// file that replays.
func TestChaosRunAndShrink(t *testing.T) {
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := execute(t.Context(), args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := run("chaos", "run", loseAck, "--out", t.TempDir()); code != 0 || !strings.Contains(out, "COMPLETED") {
		t.Fatalf("with the inbox: exit %d\n%s", code, out)
	}
	dir := t.TempDir()
	code, out := run("chaos", "run", loseAck, "--dedup=false", "--out", dir)
	for _, want := range []string{"FAILED", "while lose-ack 0.3 was held", "replay:  edload chaos run " + loseAck + " --seed 1 --dedup=false"} {
		if !strings.Contains(out, want) {
			t.Errorf("without the inbox: output lacks %q", want)
		}
	}
	if code != exitBroken {
		t.Fatalf("without the inbox: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "experiment.json")); err != nil {
		t.Errorf("no journal: %v", err)
	}
	shrunk := t.TempDir()
	code, out = run("chaos", "shrink", loseAck, "--dedup=false", "--out", shrunk, "--max-runs", "6")
	if code != exitBroken || !strings.Contains(out, "to 1 fault(s)") {
		t.Fatalf("shrink: exit %d\n%s", code, out)
	}
	if code, out := run("chaos", "run", filepath.Join(shrunk, "shrunk.yaml"), "--dedup=false", "--out", t.TempDir()); code != exitBroken {
		t.Fatalf("the shrunk experiment did not fail on replay: exit %d\n%s", code, out)
	}
}
