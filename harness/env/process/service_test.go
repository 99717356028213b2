package process

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/envtest"
)

// These tests are in package process to reach the scan state and the pid
// of the running child; the services are /bin/sh scripts.

// shService is a spec running script in sh, ready on "service ready".
func shService(script string) ServiceSpec {
	return ServiceSpec{Command: []string{"sh", "-c", script}, ReadyLog: "service ready", ReadyTimeout: 3 * time.Second}
}

// serviceTmp points os.TempDir at a fresh dir, so a test can tell that a
// failed start left no instance dir and no process behind.
func serviceTmp(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	t.Setenv("TMPDIR", d)
	return d
}

// assertNothingLeft fails if tmp holds anything or a process works in it.
func assertNothingLeft(t *testing.T, tmp string) {
	t.Helper()
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
		t.Errorf("left behind in %s: %v (%v)", tmp, ents, err)
	}
	ps, err := envtest.Processes()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Mentions(tmp) {
			t.Errorf("process left behind: %v", p)
		}
	}
}

// bounded is a context that ends within 5 s, so a broken Kill or Stop
// fails its test instead of hanging it.
func bounded(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startService(t *testing.T, spec ServiceSpec) *Instance {
	t.Helper()
	in, err := New().StartService(bounded(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 5*time.Second)
		defer cancel()
		_ = in.Close(ctx)
	})
	return in
}

// mainPID is the pid of the running service.
func mainPID(t *testing.T, in *Instance) int {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.main == nil {
		t.Fatal("service not running")
	}
	return in.main.cmd.Process.Pid
}

// procState is pid's state letter from /proc, 0 when it is gone.
func procState(pid int) byte {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

func isAlive(pid int) bool {
	s := procState(pid)
	return s != 0 && s != 'Z' && s != 'X'
}

// readPID reads a pid a script wrote to path.
func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func serviceLog(t *testing.T, in *Instance) string {
	t.Helper()
	rc, err := in.Logs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// eventually waits up to 2 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 2s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServiceReadyLog: Start returns only after the ReadyLog line was
// printed, and the handle says what it is.
func TestServiceReadyLog(t *testing.T) {
	in := startService(t, shService(`echo service not ready yet; sleep 0.3; date +%s%N > "$HOME/printed"; echo service ready; exec sleep 600`))
	returned := time.Now()
	b, err := os.ReadFile(filepath.Join(in.Dir(), "printed"))
	if err != nil {
		t.Fatalf("Start returned before the service printed its ReadyLog: %v", err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if printed := time.Unix(0, ns); printed.After(returned) {
		t.Errorf("ReadyLog printed at %v, after Start returned at %v", printed, returned)
	}
	if in.StartupTime() < 300*time.Millisecond {
		t.Errorf("StartupTime %v, but the service slept 300ms before it was ready", in.StartupTime())
	}
	if in.Name() != "sh" || in.Kind() != KindService || in.Provider() != env.Process {
		t.Errorf("handle says %s/%s/%s, want sh/service/process", in.Name(), in.Kind(), in.Provider())
	}
	if ep := in.Endpoint(); len(ep.Addrs) != 0 || ep.URL != "" {
		t.Errorf("endpoint %+v, want none", ep)
	}
	if log := serviceLog(t, in); !strings.Contains(log, "service not ready yet\nservice ready\n") {
		t.Errorf("log %q lacks the service's output", log)
	}
}

// TestServiceNoReadyLog: without a ReadyLog the service is ready once it
// has survived the grace.
func TestServiceNoReadyLog(t *testing.T) {
	in := startService(t, ServiceSpec{Command: []string{"sh", "-c", "exec sleep 600"}})
	if in.StartupTime() < serviceGrace {
		t.Errorf("ready after %v, before the %v grace", in.StartupTime(), serviceGrace)
	}
	if pid := mainPID(t, in); !isAlive(pid) {
		t.Errorf("pid %d not alive after Start", pid)
	}
}

// TestServiceReadyTimeout: a ReadyLog never printed fails within
// ReadyTimeout, names the line, and leaves nothing behind.
func TestServiceReadyTimeout(t *testing.T) {
	tmp := serviceTmp(t)
	ctx := bounded(t)
	spec := ServiceSpec{Command: []string{"sh", "-c", "echo starting up; exec sleep 600"}, ReadyLog: "never printed", ReadyTimeout: 300 * time.Millisecond}
	began := time.Now()
	in, err := New().StartService(ctx, spec)
	took := time.Since(began)
	if err == nil {
		_ = in.Close(ctx)
		t.Fatal("Start succeeded without the ReadyLog")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `"never printed"`) || !strings.Contains(err.Error(), "starting up") {
		t.Errorf("error %q: want a deadline naming the ReadyLog, with the output", err)
	}
	if took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v, want about the 300ms ReadyTimeout", took)
	}
	assertNothingLeft(t, tmp)
}

// TestServiceExitsEarly: a service that dies before it is ready is
// ErrExited with its output (stderr too), and leaves nothing behind.
func TestServiceExitsEarly(t *testing.T) {
	tests := []struct {
		name     string
		readyLog string
		script   string
	}{
		{"before its ReadyLog", "service ready", "echo boom on stderr >&2; exit 3"},
		{"within the grace", "", "sleep 0.05; echo boom on stderr >&2; exit 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := serviceTmp(t)
			in, err := New().StartService(bounded(t), ServiceSpec{Command: []string{"sh", "-c", tt.script}, ReadyLog: tt.readyLog})
			if err == nil {
				_ = in.Close(bounded(t))
				t.Fatal("Start succeeded for a service that exited")
			}
			if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "boom on stderr") || !strings.Contains(err.Error(), "exit status 3") {
				t.Errorf("error %q: want ErrExited with the output and exit status", err)
			}
			assertNothingLeft(t, tmp)
		})
	}
}

// TestServiceBadSpec: a spec that cannot run is refused up front with
// every problem named, and nothing is made.
func TestServiceBadSpec(t *testing.T) {
	tests := []struct {
		name string
		spec ServiceSpec
		want []string
		is   error
	}{
		{"no command", ServiceSpec{}, []string{"empty Command"}, nil},
		{"not on PATH", ServiceSpec{Command: []string{"edkit-no-such-program"}}, []string{"edkit-no-such-program"}, exec.ErrNotFound},
		{"no such path", ServiceSpec{Command: []string{"./no/such/service"}}, []string{"no/such/service"}, os.ErrNotExist},
		{"no such dir", ServiceSpec{Command: []string{"sh"}, Dir: "/nonexistent/edkit"}, []string{"dir:", "/nonexistent/edkit"}, os.ErrNotExist},
		{"bad env name", ServiceSpec{Command: []string{"sh"}, Env: map[string]string{"A=B": "x"}}, []string{`bad variable name "A=B"`}, nil},
		{"negative timeout", ServiceSpec{Command: []string{"sh"}, ReadyTimeout: -time.Second}, []string{"negative ReadyTimeout"}, nil},
		{"every problem at once", ServiceSpec{Dir: "/nonexistent/edkit", ReadyTimeout: -1}, []string{"empty Command", "dir:", "negative ReadyTimeout"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := serviceTmp(t)
			in, err := New().StartService(bounded(t), tt.spec)
			if in != nil || !errors.Is(err, env.ErrBadSpec) {
				t.Fatalf("StartService = %v, %v; want nil, env.ErrBadSpec", in, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			assertNothingLeft(t, tmp)
		})
	}
}

// TestServiceKillRestart: Kill ends the service at once; Restart runs it
// again and waits for the new run's ReadyLog, not for the lines the old
// run kept printing into the same log.
func TestServiceKillRestart(t *testing.T) {
	in := startService(t, shService(`echo "run $$"; sleep 0.2; : > "$HOME/marker"; while :; do echo service ready; sleep 0.02; done`))
	ctx := bounded(t)
	pid := mainPID(t, in)
	// The old run goes on printing its ReadyLog after Start has seen it.
	n := strings.Count(serviceLog(t, in), "service ready")
	eventually(t, "the ReadyLog printed again after Start", func() bool { return strings.Count(serviceLog(t, in), "service ready") >= n+3 })
	if err := in.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if isAlive(pid) {
		t.Fatalf("pid %d alive after Kill", pid)
	}
	if err := in.Kill(ctx); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second Kill: %v, want ErrNotRunning", err)
	}
	marker := filepath.Join(in.Dir(), "marker")
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	if err := in.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("Restart returned before the new run printed its ReadyLog: %v", err)
	}
	pid2 := mainPID(t, in)
	if pid2 == pid || !isAlive(pid2) {
		t.Errorf("after Restart pid %d (alive %v), before %d: want a new live process", pid2, isAlive(pid2), pid)
	}
	if log := serviceLog(t, in); !strings.Contains(log, "run "+strconv.Itoa(pid)+"\n") || !strings.Contains(log, "run "+strconv.Itoa(pid2)+"\n") {
		t.Errorf("log %q does not hold both runs", log)
	}
}

// childScript starts a background sleep, writes its pid and waits: a
// service with a child of its own.
const childScript = `sleep 600 & echo $! > "$HOME/child"; echo service ready; wait`

// TestServiceKillTakesChildren: Kill ends the service's own children too.
func TestServiceKillTakesChildren(t *testing.T) {
	in := startService(t, shService(childScript))
	pid, kid := mainPID(t, in), readPID(t, filepath.Join(in.Dir(), "child"))
	if !isAlive(kid) {
		t.Fatalf("the service's child %d is not running", kid)
	}
	if err := in.Kill(bounded(t)); err != nil {
		t.Fatal(err)
	}
	if isAlive(pid) || isAlive(kid) {
		t.Errorf("after Kill: service %d alive %v, its child %d alive %v", pid, isAlive(pid), kid, isAlive(kid))
	}
}

// TestServicePauseResume: Pause stops the service and its children (state
// T), Resume lets them run again.
func TestServicePauseResume(t *testing.T) {
	in := startService(t, shService(childScript))
	pid, kid := mainPID(t, in), readPID(t, filepath.Join(in.Dir(), "child"))
	if err := in.Pause(bounded(t)); err != nil {
		t.Fatal(err)
	}
	if s, k := procState(pid), procState(kid); s != 'T' || k != 'T' {
		t.Fatalf("paused: service state %c, child state %c; want T", s, k)
	}
	if err := in.Resume(bounded(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "service and child running again", func() bool {
		return isAlive(pid) && isAlive(kid) && procState(pid) != 'T' && procState(kid) != 'T'
	})
}

// TestServiceStopRestart: Stop asks the service to leave with SIGTERM and
// it shuts down cleanly; Restart brings it back.
func TestServiceStopRestart(t *testing.T) {
	in := startService(t, shService(`trap 'echo got TERM; kill $!; exit 0' TERM; sleep 600 & echo service ready; wait`))
	ctx := bounded(t)
	pid := mainPID(t, in)
	if err := in.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(serviceLog(t, in), "got TERM") {
		t.Error("the service did not get SIGTERM")
	}
	if isAlive(pid) {
		t.Errorf("pid %d alive after Stop", pid)
	}
	if err := in.Pause(ctx); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Pause of a stopped service: %v, want ErrNotRunning", err)
	}
	if err := in.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if pid2 := mainPID(t, in); pid2 == pid || !isAlive(pid2) {
		t.Errorf("after Restart pid %d (alive %v), before %d: want a new live process", pid2, isAlive(pid2), pid)
	}
}

// TestServiceClose: Close ends the service and removes its dir; later
// calls return env.ErrClosed.
func TestServiceClose(t *testing.T) {
	in := startService(t, shService(childScript))
	ctx := bounded(t)
	pid, kid := mainPID(t, in), readPID(t, filepath.Join(in.Dir(), "child"))
	if err := in.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(in.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s still there after Close (%v)", in.Dir(), err)
	}
	if isAlive(pid) || isAlive(kid) {
		t.Errorf("after Close: service %d alive %v, its child %d alive %v", pid, isAlive(pid), kid, isAlive(kid))
	}
	if err := in.Close(ctx); !errors.Is(err, env.ErrClosed) {
		t.Errorf("second Close: %v, want env.ErrClosed", err)
	}
	if err := in.Restart(ctx); !errors.Is(err, env.ErrClosed) {
		t.Errorf("Restart after Close: %v, want env.ErrClosed", err)
	}
	if _, err := in.Logs(ctx); !errors.Is(err, env.ErrClosed) {
		t.Errorf("Logs after Close: %v, want env.ErrClosed", err)
	}
}

// TestServiceEnv: the child gets the base environment plus Env (which
// wins), nothing else of ours, runs as us in Dir (default its temp dir).
func TestServiceEnv(t *testing.T) {
	t.Setenv("EDKIT_SERVICE_LEAK", "from the parent")
	script := `echo "greeting=$GREETING leak=[$EDKIT_SERVICE_LEAK] lang=$LANG home=$HOME pwd=$(pwd -P) uid=$(id -u)"; echo service ready; exec sleep 600`
	given := t.TempDir()
	for _, dir := range []string{"", given} {
		t.Run("dir="+dir, func(t *testing.T) {
			spec := shService(script)
			spec.Name, spec.Dir = "greeter", dir
			spec.Env = map[string]string{"GREETING": "hello world", "LANG": "POSIX"}
			in := startService(t, spec)
			wantDir := dir
			if dir == "" {
				wantDir = in.Dir()
			}
			wantDir, err := filepath.EvalSymlinks(wantDir)
			if err != nil {
				t.Fatal(err)
			}
			log := serviceLog(t, in)
			for _, w := range []string{"greeting=hello world ", "leak=[] ", "lang=POSIX ", "home=" + in.Dir() + " ",
				"pwd=" + wantDir + " ", "uid=" + strconv.Itoa(os.Getuid()) + "\n"} {
				if !strings.Contains(log, w) {
					t.Errorf("the service printed %q, want %q in it", log, w)
				}
			}
			if in.Name() != "greeter" {
				t.Errorf("Name %q, want greeter", in.Name())
			}
		})
	}
}

// TestServiceLogScan: the scan starts at the log's end, finds a line split
// across writes, never reads old bytes again and keeps only
// len(want)-1 of them.
func TestServiceLogScan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.log")
	want := "service ready"
	l := logScan{path: path, want: []byte(want)}
	if seen, err := l.seen(); seen || err != nil {
		t.Fatalf("no log yet: seen %v, %v", seen, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	step := func(write string, wantSeen bool) {
		t.Helper()
		if _, err := f.WriteString(write); err != nil {
			t.Fatal(err)
		}
		seen, err := l.seen()
		if err != nil || seen != wantSeen {
			t.Fatalf("after writing %.20q...: seen %v, %v; want %v", write, seen, err, wantSeen)
		}
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if l.off != st.Size() || len(l.keep) > len(want)-1 {
			t.Fatalf("scanned to %d of %d, keeping %d bytes; want all, at most %d", l.off, st.Size(), len(l.keep), len(want)-1)
		}
	}
	step("service ready (an earlier run)\n", true)
	l.fromEnd()
	step("starting\nservi", false)
	step(strings.Repeat("x", 100<<10)+"\nservice re", false)
	// Plant the line among bytes already scanned: a scan that reread the
	// log would find it now.
	g, err := os.OpenFile(path, os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt([]byte(" "+want+" "), l.off-2000); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	step("not yet\n", false)
	step("service re", false)
	step("ady\n", true)
}
