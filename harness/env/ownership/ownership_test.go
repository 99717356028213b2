package ownership

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary play the child processes TestLock and
// TestSweep need — another process holding a lock, one that dies leaving
// a marked temp dir — chosen by environment variable, before any test.
func TestMain(m *testing.M) {
	if path := os.Getenv("OWNERSHIP_HOLD"); path != "" {
		if _, err := Acquire(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_, _ = os.Stdout.WriteString("held")
		time.Sleep(time.Minute) // until TestLock kills it
		os.Exit(0)
	}
	if root := os.Getenv("OWNERSHIP_TEMP"); root != "" {
		if _, err := MkdirTemp(root, "edkit-dead-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0) // without removing it, as a killed process would
	}
	os.Exit(m.Run())
}

func TestStartTime(t *testing.T) {
	tail := " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 20 21\n"
	tests := []struct {
		stat string
		want uint64
		ok   bool
	}{
		{"123 (edload)" + tail, 424242, true},
		{"123 (a) b (c)" + tail, 424242, true}, // a command name with parentheses and spaces
		{"123 (edload) S 1 2", 0, false},
		{"garbage", 0, false},
	}
	for _, tt := range tests {
		got, err := startTime([]byte(tt.stat))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("startTime(%q) = %d, %v; want %d, ok %v", tt.stat, got, err, tt.want, tt.ok)
		}
	}
}

// sleeper starts a process the test owns and kills it at the end.
func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// TestOpenChecksIdentity: a handle is given only on the process recorded;
// a PID that names another process (another start time or executable, or
// a record without a start time) is refused, and the process is untouched.
func TestOpenChecksIdentity(t *testing.T) {
	cmd := sleeper(t)
	id, err := Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if id.Start == 0 || filepath.Base(id.Exe) != "sleep" {
		t.Fatalf("Of(sleep) = %+v", id)
	}
	p, err := Open(id)
	if err != nil {
		t.Fatalf("Open(the recorded process): %v", err)
	}
	_ = p.Release()
	for name, rec := range map[string]ID{
		"another start time":   {PID: id.PID, Start: id.Start - 1, Exe: id.Exe},
		"another executable":   {PID: id.PID, Start: id.Start, Exe: "/usr/bin/edload"},
		"no start to check by": {PID: id.PID, Exe: id.Exe},
	} {
		if _, err := Open(rec); !errors.Is(err, ErrNotOurs) {
			t.Errorf("%s: Open = %v, want ErrNotOurs", name, err)
		}
	}
	if _, err := Of(cmd.Process.Pid); err != nil {
		t.Fatalf("the refused process is gone: %v", err)
	}
}

func TestOpenGone(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ID{PID: cmd.Process.Pid, Start: 1, Exe: "/bin/true"}); !errors.Is(err, ErrGone) && !errors.Is(err, ErrNotOurs) {
		t.Errorf("Open(an exited process) = %v, want ErrGone (or ErrNotOurs if its PID was reused)", err)
	}
}

// TestLock: one holder at a time; Held asks without creating the file;
// the kernel releases the lock of a process that dies without releasing.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env.lock")
	if held, err := Held(path); held || err != nil {
		t.Fatalf("Held(no file) = %v, %v", held, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("Held created the lock file")
	}
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(path); !errors.Is(err, ErrLocked) {
		t.Errorf("second Acquire = %v, want ErrLocked", err)
	}
	if held, _ := Held(path); !held {
		t.Error("Held = false while held")
	}
	if err := errors.Join(l.Release(), l.Release()); err != nil {
		t.Fatal(err)
	}
	if held, _ := Held(path); held {
		t.Error("Held = true after Release")
	}

	// A child takes the lock and is killed: the kernel drops it.
	child := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "OWNERSHIP_HOLD="+path)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := out.Read(buf); err != nil {
		t.Fatalf("child: %v", err)
	}
	if held, _ := Held(path); !held {
		t.Fatal("Held = false while the child holds it")
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for held, _ := Held(path); held; held, _ = Held(path) {
		if time.Now().After(deadline) {
			t.Fatal("the lock of a killed process is still held")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSweep: the temp dirs of a process that died are removed; those of a
// live process, and dirs without a marker, stay.
func TestSweep(t *testing.T) {
	root := t.TempDir()
	mine, err := MkdirTemp(root, "edkit-live-")
	if err != nil {
		t.Fatal(err)
	}
	child := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "OWNERSHIP_TEMP="+root)
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	unmarked := filepath.Join(root, "edkit-unmarked")
	other := filepath.Join(root, "someone-else")
	for _, d := range []string{unmarked, other} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := Sweep(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || !strings.HasPrefix(filepath.Base(removed[0]), "edkit-dead-") {
		t.Errorf("removed %v, want the dead child's dir alone", removed)
	}
	for _, d := range []string{mine, unmarked, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
	if _, err := MkdirTemp(root, "tmp-"); err == nil {
		t.Error("a pattern without the edkit- prefix was accepted")
	}
}
