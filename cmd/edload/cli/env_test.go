package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env/ownership"
)

// buildEdload builds the real binary: env up re-executes itself as the
// daemon, which a test binary cannot stand in for.
func buildEdload(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edload")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runBin(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	return runBinEnv(t, bin, nil, args...)
}

// runBinEnv runs bin with env added to the test's environment.
func runBinEnv(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	// Not t.Context(): cleanups run env down after it is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok { //nolint:errorlint // exec returns it unwrapped
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return out.String(), code
}

func reachable(ctx context.Context, addr string) bool {
	c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// TestEnvUpDown brings up all five brokers in the background, checks every
// endpoint answers, then takes them down and checks nothing answers and the
// state file is gone.
func TestEnvUpDown(t *testing.T) {
	bin := buildEdload(t)
	state := filepath.Join(t.TempDir(), "env.json")
	out, code := runBin(t, bin, "env", "up", "--state", state, "../../../harness/env/testdata/all.yaml")
	if code != exitOK {
		t.Fatalf("env up exit %d:\n%s", code, out)
	}
	t.Cleanup(func() { runBin(t, bin, "env", "down", "--state", state) })
	st, err := readState(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Components) != 5 {
		t.Fatalf("%d components in state, want 5:\n%s", len(st.Components), out)
	}
	var addrs []string
	for _, c := range st.Components {
		if !strings.Contains(out, c.Name) || !strings.Contains(out, c.Redacted) {
			t.Errorf("env up output does not show %s at %s:\n%s", c.Name, c.Redacted, out)
		}
		if strings.Contains(out, "guest:guest") {
			t.Errorf("env up printed a password:\n%s", out)
		}
		addr := ""
		if len(c.Addrs) > 0 {
			addr = c.Addrs[0]
		}
		if addr == "" || !reachable(t.Context(), addr) {
			t.Errorf("%s (%s) does not answer at %q", c.Name, c.Kind, addr)
		}
		addrs = append(addrs, addr)
	}
	if _, code := runBin(t, bin, "env", "up", "--state", state, "../../../harness/env/testdata/all.yaml"); code != exitUsage {
		t.Errorf("a second env up exited %d, want %d (already up)", code, exitUsage)
	}

	out, code = runBin(t, bin, "env", "down", "--state", state)
	if code != exitOK || !strings.Contains(out, "5 components stopped") {
		t.Fatalf("env down exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file still there after down: %v", err)
	}
	for _, a := range addrs {
		if reachable(t.Context(), a) {
			t.Errorf("%s still answers after env down", a)
		}
	}
	if p, err := ownership.Open(st.Owner); err == nil {
		_ = p.Release()
		t.Errorf("daemon %d still alive after env down", st.PID)
	}
	if _, err := os.Stat(lockPath(state)); !os.IsNotExist(err) {
		t.Errorf("lock file still there after down: %v", err)
	}
	out, code = runBin(t, bin, "env", "down", "--state", state)
	if code != exitOK || !strings.Contains(out, "no environment is up") {
		t.Errorf("second env down exit %d:\n%s", code, out)
	}
}

// TestEnvDownSignalsOnlyItsDaemon: env down once sent SIGTERM to whatever
// process its state file named. A state naming another process — with no
// daemon holding the lock, with a daemon holding it but another start time
// recorded, or in the old format with a PID alone — leaves that process
// running.
func TestEnvDownSignalsOnlyItsDaemon(t *testing.T) {
	stranger := exec.CommandContext(t.Context(), "sleep", "60")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stranger.Process.Kill(); _ = stranger.Wait() })
	id, err := ownership.Of(stranger.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		owner  ownership.ID
		locked bool
		code   int
		want   string
	}{
		{"no daemon holds the lock", id, false, exitOK, "was already gone"},
		{"another start time", ownership.ID{PID: id.PID, Start: id.Start + 1, Exe: id.Exe}, true, exitUsage, "is not the process edkit recorded"},
		{"a pid alone", ownership.ID{PID: id.PID}, true, exitUsage, "the record names no start time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "env.json")
			if err := writeState(state, &envState{PID: id.PID, Owner: tt.owner, Status: "ready"}); err != nil {
				t.Fatal(err)
			}
			if tt.locked { // as a live daemon would
				l, err := ownership.Acquire(lockPath(state))
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = l.Release() }()
			}
			var out, errOut bytes.Buffer
			code := execute(t.Context(), []string{"env", "down", "--state", state}, &out, &errOut)
			if code != tt.code || !strings.Contains(out.String()+errOut.String(), tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, tt.code, tt.want, out.String(), errOut.String())
			}
			if testing.Verbose() {
				t.Log(out.String() + errOut.String())
			}
			if _, err := ownership.Open(id); err != nil {
				t.Fatalf("the stranger was touched: %v", err)
			}
		})
	}
}

// TestInterruptExits130 sends Ctrl-C to a running load and expects edload
// to clean up and exit 130 promptly.
func TestInterruptExits130(t *testing.T) {
	bin := buildEdload(t)
	cmd := exec.CommandContext(t.Context(), bin, "run", "--duration", "60s", "--rate", "50", "--out", t.TempDir())
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "load on") {
		if time.Now().After(deadline) {
			t.Fatalf("the load never started:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		// A non-zero exit is expected; ProcessState says which below.
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("edload did not stop within 20 s of Ctrl-C:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d, want %d:\n%s", code, exitInterrupted, out.String())
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("no interruption message:\n%s", out.String())
	}
}

// syncBuffer is a bytes.Buffer safe to read while a child writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEnvCleanAfterSIGKILL kills the environment daemon with SIGKILL, which
// runs no cleanup: its servers die with it (Pdeathsig), and `env clean`
// then removes the rest — state, log and lock files and every temp dir —
// leaving nothing of it behind.
func TestEnvCleanAfterSIGKILL(t *testing.T) {
	bin := buildEdload(t)
	tmp := t.TempDir() // the daemon's TMPDIR, so only its temp dirs are counted
	// The process provider runs servers as an unprivileged user, who must
	// reach their dirs under it.
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(t.TempDir(), "env.json")
	spec := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(spec, []byte("components:\n  - {kind: redis, provider: process}\n  - {kind: kafka, provider: embedded}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		t.Helper()
		// Not t.Context(): the cleanup runs env down after it is cancelled.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%v: %v", args, err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	if out, code := run("env", "up", "--state", state, spec); code != exitOK {
		t.Fatalf("env up exit %d:\n%s", code, out)
	}
	t.Cleanup(func() { run("env", "down", "--state", state) })
	st, err := readState(state)
	if err != nil {
		t.Fatal(err)
	}
	if left := edkitDirs(t, tmp); len(left) == 0 {
		t.Fatal("the environment made no temp dir: the test would prove nothing")
	}
	p, err := ownership.Open(st.Owner)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.Release()
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range st.Components {
		for reachable(t.Context(), c.Addrs[0]) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still answers at %s after its daemon was killed", c.Name, c.Addrs[0])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	out, code := run("env", "clean", "--state", state)
	if code != exitOK {
		t.Fatalf("env clean exit %d:\n%s", code, out)
	}
	if left := edkitDirs(t, tmp); len(left) > 0 {
		t.Errorf("env clean left %v:\n%s", left, out)
	}
	for _, f := range []string{state, state + ".log", lockPath(state)} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("env clean left %s:\n%s", f, out)
		}
	}
}

func edkitDirs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ownership.TempPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestRunCleanAfterSIGKILL kills `edload run` with SIGKILL mid-run, when
// its embedded broker's temp dir and the history are being written: the
// dead run cleans nothing up, and `env clean` then removes every temp dir
// it left, while the run directory the user asked for stays untouched.
func TestRunCleanAfterSIGKILL(t *testing.T) {
	bin := buildEdload(t)
	tmp := t.TempDir()
	out := filepath.Join(t.TempDir(), "run")
	cmd := exec.CommandContext(t.Context(), bin, "run", "--broker", "kafka", "--duration", "60s", "--rate", "200",
		"--fault", "none", "--out", out)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "a run under way: the broker's temp dir and a growing history", func() bool {
		fi, err := os.Stat(filepath.Join(out, "history.bin.zst"))
		return len(edkitDirs(t, tmp)) > 0 && err == nil && fi.Size() > 0
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(edkitDirs(t, tmp)) == 0 {
		t.Fatalf("the killed run left no temp dir: the test would prove nothing\n%s", log.String())
	}
	cleaned, code := runBinEnv(t, bin, []string{"TMPDIR=" + tmp}, "env", "clean", "--state", filepath.Join(t.TempDir(), "env.json"))
	if code != exitOK {
		t.Fatalf("env clean exit %d:\n%s", code, cleaned)
	}
	if left := edkitDirs(t, tmp); len(left) > 0 {
		t.Errorf("env clean left %v:\n%s", left, cleaned)
	}
	if !strings.Contains(cleaned, "removed "+tmp) {
		t.Errorf("env clean did not say what it removed:\n%s", cleaned)
	}
	if _, err := os.Stat(filepath.Join(out, "history.bin.zst")); err != nil {
		t.Errorf("env clean touched the run directory the user asked for: %v", err)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
