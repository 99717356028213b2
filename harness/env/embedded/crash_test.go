package embedded_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/harness/env/envtest"
)

const helperEnv = "EDKIT_EMBEDDED_CRASH_HELPER"

// TestCrashedParentTakesChildAlong SIGKILLs a test process that runs a
// child-mode broker — no Close, no cleanup — and checks that the kernel
// kills the broker too (Pdeathsig), so a crashed test leaves nothing.
func TestCrashedParentTakesChildAlong(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		crashHelper()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashedParentTakesChildAlong$")
	// The crashed helper cannot remove its broker's temp dir; put it under
	// this test's own, which the test framework removes.
	cmd.Env = append(os.Environ(), helperEnv+"=1", "TMPDIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	s := bufio.NewScanner(out)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "broker pid "); ok {
			pid, _ = strconv.Atoi(v)
			break
		}
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("helper never reported its broker")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("broker pid %d outlived its crashed parent", pid)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] == "Z"
}

// crashHelper starts a child-mode NATS, reports the broker's pid and
// waits to be killed.
func crashHelper() {
	ctx := context.Background()
	_, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{{Kind: env.KindNATS, Provider: env.Embedded,
		Durable: true, Options: map[string]string{"mode": "child"}}}}, env.WithProvider(embedded.New()))
	if err != nil {
		fmt.Println("start:", err)
		os.Exit(1)
	}
	ps, _ := envtest.Children()
	for _, p := range ps {
		if strings.Contains(p.Cmdline, "edkit-broker ") {
			fmt.Printf("broker pid %d\n", p.PID)
		}
	}
	select {}
}
