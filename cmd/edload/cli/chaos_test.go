package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestChaosRecoverAfterSIGKILL kills `edload chaos run` with SIGKILL while
// its redis server is paused by the experiment: the paused server dies with
// its edload (nothing stays frozen), and `chaos recover` removes every
// temp dir the dead run left; nothing of the experiment remains.
func TestChaosRecoverAfterSIGKILL(t *testing.T) {
	bin := buildEdload(t)
	// The redis server runs as its own user when the test runs as root:
	// its temp dir's parents must let it in (t.TempDir's are root's alone).
	tmp, err := os.MkdirTemp("", "chaos-recover-") //nolint:usetesting // t.TempDir's parent is root's alone, see above
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(t.TempDir(), "pause.yaml")
	if err := os.WriteFile(x, []byte("title: a long pause\nsystem: echo\nbroker: {kind: redis}\n"+
		"load: {rate: \"50\", duration: 60s, keys: 5}\nsteady-state: {min-throughput: 10}\n"+
		"method: [{fault: pause, at: 1s, hold: 50s}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "chaos", "run", x, "--out", filepath.Join(t.TempDir(), "run"))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var paused int
	defer func() {
		if t.Failed() {
			t.Log(log.String())
		}
	}()
	waitFor(t, 60*time.Second, "the experiment's redis-server paused", func() bool {
		paused = stoppedIn(tmp)
		return paused > 0
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, 10*time.Second, "the paused server gone with its edload", func() bool { return !alive(paused) })
	if len(edkitDirs(t, tmp)) == 0 {
		t.Fatalf("the killed experiment left no temp dir: the test would prove nothing\n%s", log.String())
	}
	out, code := runBinEnv(t, bin, []string{"TMPDIR=" + tmp}, "chaos", "recover", "--state", filepath.Join(t.TempDir(), "env.json"))
	if code != exitOK {
		t.Fatalf("chaos recover exit %d:\n%s", code, out)
	}
	if left := edkitDirs(t, tmp); len(left) > 0 {
		t.Errorf("chaos recover left %v:\n%s", left, out)
	}
}

// stoppedIn is the pid of a stopped (SIGSTOP) process whose working
// directory is under root, 0 when there is none.
func stoppedIn(root string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cwd, err := os.Readlink(filepath.Join(p, "cwd"))
		if err != nil || !strings.HasPrefix(cwd, root) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(p, "stat"))
		i := bytes.LastIndexByte(stat, ')')
		if err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] != 'T' {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		return pid
	}
	return 0
}

func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}
