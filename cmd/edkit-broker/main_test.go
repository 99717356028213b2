package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestMain lets the tests run this test binary as edkit-broker itself, so
// exit statuses and signal handling are those of the real main.
func TestMain(m *testing.M) {
	if os.Getenv("EDKIT_BROKER_TEST_MAIN") == "1" {
		os.Args = append([]string{"edkit-broker"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// broker is a running edkit-broker process.
type broker struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

// command returns an edkit-broker command (this test binary re-run) with
// args and extra environment variables.
func command(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), "EDKIT_BROKER_TEST_MAIN=1")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

// startBroker runs edkit-broker and waits until it prints "ready".
func startBroker(t *testing.T, env []string, args ...string) *broker {
	t.Helper()
	cmd, stderr := command(t, env, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &broker{cmd: cmd, stderr: stderr, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
				break
			}
		}
		_, _ = bufio.NewReader(stdout).WriteTo(&bytes.Buffer{}) // drain
		b.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-b.done //nolint:errcheck // the broker's exit status after a kill says nothing
	})
	select {
	case <-ready:
	case err := <-b.done:
		b.done <- err
		t.Fatalf("edkit-broker exited before ready: %v\n%s", err, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("edkit-broker not ready in 30s\n%s", stderr)
	}
	return b
}

// stop signals b and returns its exit error.
func (b *broker) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := b.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.done:
		b.done <- err // for Cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("edkit-broker did not exit on %v", sig)
		return nil
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// brokersAndTopics dials addr and returns the advertised broker addresses
// and the topic names the cluster reports.
func brokersAndTopics(t *testing.T, addr string) ([]string, map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := (&kafka.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer func() { _ = conn.Close() }()
	bs, err := conn.Brokers()
	if err != nil {
		t.Fatal(err)
	}
	var advertised []string
	for _, b := range bs {
		advertised = append(advertised, net.JoinHostPort(b.Host, strconv.Itoa(b.Port)))
	}
	ps, err := conn.ReadPartitions()
	if err != nil {
		t.Fatal(err)
	}
	topics := map[string]int{}
	for _, p := range ps {
		topics[p.Topic]++
	}
	return advertised, topics
}

func TestBadCommandLineExitsTwo(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string // in stderr
	}{
		{"no broker", nil, nil, "usage: edkit-broker"},
		{"unknown broker", nil, []string{"zookeeper"}, `unknown broker "zookeeper"`},
		{"unknown flag", nil, []string{"kafka", "--port", "1", "--nope"}, "flag provided but not defined: -nope"},
		{"kafka without port", nil, []string{"kafka"}, "kafka needs --port"},
		{"bad port", nil, []string{"kafka", "--port", "70000"}, `bad port "70000"`},
		{"bad port from env", []string{"EDKIT_KAFKA_PORT=x"}, []string{"kafka"}, `bad port "x"`},
		{"bad partitions", nil, []string{"kafka", "--port", "1", "--partitions", "0"}, "--partitions 0"},
		{"non-numeric partitions", nil, []string{"kafka", "--port", "1", "--partitions", "many"}, "invalid value"},
		{"advertise count", nil, []string{"kafka", "--port", "1,2", "--advertise", "a:1"}, "1 --advertise addresses for 2 ports"},
		{"stray argument", nil, []string{"kafka", "--port", "1", "extra"}, "unexpected arguments"},
		{"nats without store", nil, []string{"nats", "--port", "4222"}, "nats needs --store-dir"},
		{"nats without port", nil, []string{"nats", "--store-dir", "/tmp/x"}, "nats needs --port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, stderr := command(t, tt.env, tt.args...)
			err := cmd.Run()
			if got := exitCode(err); got != exitUsage {
				t.Fatalf("exit %d (%v), want %d; stderr:\n%s", got, err, exitUsage, stderr)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("stderr %q does not mention %q", stderr, tt.want)
			}
		})
	}
}

func TestRunSeparatesUsageFromFailure(t *testing.T) {
	// A port already taken is a start failure (exit 1), not a usage error.
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	cmd, stderr := command(t, nil, "kafka", "--port", port)
	if got := exitCode(cmd.Run()); got != exitFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", got, exitFailed, stderr)
	}

	// -h prints the flags and is not an error.
	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"kafka", "-h"}, func(string) string { return "" }, &out, &errOut)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "-listen-host") {
		t.Fatalf("run -h: %v, usage %q", err, errOut.String())
	}
}

func TestKafkaReadyThenSIGTERMExitsZero(t *testing.T) {
	tests := []struct {
		name string
		sig  syscall.Signal
	}{
		{"SIGTERM", syscall.SIGTERM},
		{"SIGINT", syscall.SIGINT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			b := startBroker(t, nil, "kafka", "--port", strconv.Itoa(port), "--partitions", "2", "--topics", "orders")
			adv, topics := brokersAndTopics(t, addr)
			if len(adv) != 1 || adv[0] != addr {
				t.Fatalf("advertised %v, want [%s]", adv, addr)
			}
			if topics["orders"] != 2 {
				t.Fatalf("topics %v, want orders with 2 partitions", topics)
			}
			if err := b.stop(t, tt.sig); err != nil {
				t.Fatalf("exit after %v: %v\n%s", tt.sig, err, b.stderr)
			}
		})
	}
}

// TestKafkaContainerMode runs the broker the way edkit/kafka:local does:
// every interface, advertise and data dir from the environment.
func TestKafkaContainerMode(t *testing.T) {
	port := freePort(t)
	advertised := "127.0.0.1:" + strconv.Itoa(port) // what the host would dial
	data := t.TempDir()
	env := []string{"EDKIT_KAFKA_ADVERTISE=" + advertised, "EDKIT_KAFKA_DATA=" + data}
	b := startBroker(t, env, "kafka", "--listen-host", "0.0.0.0", "--port", strconv.Itoa(port), "-partitions", "1")
	adv, _ := brokersAndTopics(t, advertised)
	if len(adv) != 1 || adv[0] != advertised {
		t.Fatalf("advertised %v, want [%s]", adv, advertised)
	}
	if err := b.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit: %v\n%s", err, b.stderr)
	}
	if _, err := os.Stat(data + "/topics.json"); err != nil {
		t.Fatalf("EDKIT_KAFKA_DATA not used: %v", err)
	}
}

// TestKafkaTopicsSurviveSIGKILL pins down which topics a crash keeps:
// --topics are persisted at once, including ones added on a restart.
func TestKafkaTopicsSurviveSIGKILL(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	addr := "127.0.0.1:" + port
	data := t.TempDir()

	b := startBroker(t, nil, "kafka", "--port", port, "--data-dir", data, "--partitions", "1", "--topics", "first")
	if err := b.stop(t, syscall.SIGKILL); exitCode(err) != -1 {
		t.Fatalf("SIGKILL: %v", err)
	}
	b = startBroker(t, nil, "kafka", "--port", port, "--data-dir", data, "--partitions", "1", "--topics", "first,second")
	if _, topics := brokersAndTopics(t, addr); topics["first"] != 1 || topics["second"] != 1 {
		t.Fatalf("after first SIGKILL: topics %v, want first and second", topics)
	}
	if err := b.stop(t, syscall.SIGKILL); exitCode(err) != -1 {
		t.Fatalf("SIGKILL: %v", err)
	}
	b = startBroker(t, nil, "kafka", "--port", port, "--data-dir", data, "--partitions", "1")
	if _, topics := brokersAndTopics(t, addr); topics["first"] != 1 || topics["second"] != 1 {
		t.Fatalf("after second SIGKILL: topics %v, want first and second", topics)
	}
	if err := b.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit: %v\n%s", err, b.stderr)
	}
}

// FuzzParsePorts: --port never panics, and every port it accepts is a
// TCP port.
func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"9092", "1,2,3", " 70000", "", ",,", "-1", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := parsePorts(s)
		if err != nil {
			return
		}
		for _, p := range ps {
			if p < 1 || p > 65535 {
				t.Fatalf("parsePorts(%q) accepted %d", s, p)
			}
		}
	})
}
