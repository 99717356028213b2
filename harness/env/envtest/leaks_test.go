package envtest

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// sleeper starts a process and returns it with a func that kills and reaps it.
func sleeper(t *testing.T) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start sleep: %v", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	t.Cleanup(stop)
	return cmd, stop
}

func TestLeaked(t *testing.T) {
	before, err := Children()
	if err != nil {
		t.Fatal(err)
	}
	cmd, stop := sleeper(t)
	leaked, err := Leaked(t.Context(), before, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(leaked) != 1 || leaked[0].PID != cmd.Process.Pid {
		t.Fatalf("Leaked = %v, want the sleep child %d", leaked, cmd.Process.Pid)
	}
	if n := CountChildren(); n != len(before)+1 {
		t.Errorf("CountChildren = %d, want %d", n, len(before)+1)
	}
	stop()
	if leaked, err := Leaked(t.Context(), before, time.Second); err != nil || len(leaked) != 0 {
		t.Fatalf("after kill: Leaked = %v, %v; want none", leaked, err)
	}
}

type fakeM func() int

func (f fakeM) Run() int { return f() }

func TestCheckNoLeaks(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T) int
		want int
	}{
		{"clean run passes", func(*testing.T) int { return 0 }, 0},
		{"failing run keeps its code", func(*testing.T) int { return 2 }, 2},
		{"a leaked process fails the run", func(t *testing.T) int { t.Helper(); sleeper(t); return 0 }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			if got := checkNoLeaks(fakeM(func() int { return tt.run(t) }), &out, 200*time.Millisecond); got != tt.want {
				t.Fatalf("checkNoLeaks = %d, want %d (output %q)", got, tt.want, out.String())
			}
			if tt.want == 1 && !strings.Contains(out.String(), "sleep 60") {
				t.Errorf("report %q does not name the leaked process", out.String())
			}
		})
	}
}
