package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// benchRun runs `edload bench args...` and returns exit code, stdout and
// stderr.
func benchRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := execute(ctx, append([]string{"bench"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestBenchKafka runs a short produce-consume comparison on embedded
// Kafka: exit 0, a row per client and the ratio line.
func TestBenchKafka(t *testing.T) {
	code, out, errOut := benchRun(t, "--broker", "kafka", "--duration", "500ms", "--producers", "1", "--consumers", "2",
		"--size", "200", "--batch", "5")
	if code != exitOK {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Log("\n" + out)
	for _, want := range []string{"msgs/s", "MB/s", "e2e p99", "kafka-go", "kafkabus", "edkit/bare: throughput ", ", e2e p99 "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "n/a") {
		t.Errorf("a ratio is missing:\n%s", out)
	}
}

// TestBenchBadFlags: each bad flag exits 2 and names the flag, before any
// broker starts.
func TestBenchBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--broker", "pulsar"}, "--broker"},
		{[]string{"--mode", "both"}, "--mode"},
		{[]string{"--producers", "0"}, "--producers"},
		{[]string{"--producers", "5000"}, "--producers"},
		{[]string{"--consumers", "0"}, "--consumers"},
		{[]string{"--mode", "produce", "--consumers", "2"}, "--consumers"},
		{[]string{"--size", "2"}, "--size"},
		{[]string{"--size", "2000000"}, "--size"},
		{[]string{"--partitions", "0"}, "--partitions"},
		{[]string{"--batch", "0"}, "--batch"},
		{[]string{"--rate", "-10"}, "--rate"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--duration", "soon"}, "--duration"},
		{[]string{"--mode", "consume"}, "--backlog"},
		{[]string{"--backlog", "100"}, "--backlog"},
		{[]string{"--mode", "consume", "--backlog", "10", "--duration", "1s"}, "--duration"},
		{[]string{"--producers", "two"}, "--producers"},
		{[]string{"extra"}, "takes no arguments"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := benchRun(t, c.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitUsage, out, errOut)
			}
			if !strings.Contains(errOut, "edload: ") || !strings.Contains(errOut, c.flag) {
				t.Errorf("stderr does not name %s:\n%s", c.flag, errOut)
			}
			if strings.Contains(errOut, "starting") {
				t.Errorf("a broker started for bad flags:\n%s", errOut)
			}
		})
	}
}
