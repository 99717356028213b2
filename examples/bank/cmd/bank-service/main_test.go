package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/examples/bank"
	"github.com/edkit-dev/edkit/examples/bank/service"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
	"github.com/edkit-dev/edkit/reference/bus/natsbus"
)

// bin is bank-service, built once by TestMain; buildErr why not.
var (
	bin      string
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bank-service-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "bank-service")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build: %w\n%s", err, out)
	}
	cancel()
	code := m.Run()
	_ = os.RemoveAll(dir) // a temp dir: the OS cleans up what this misses
	os.Exit(code)
}

// build is the built binary, or fails the test.
func build(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// exitCode runs bin with args to its end (within 15 s) and returns its
// exit code and stderr.
func exitCode(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	c := exec.CommandContext(ctx, bin, args...)
	c.Stderr = &stderr
	err := c.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %v: %v", args, err)
	}
	return c.ProcessState.ExitCode(), stderr.String()
}

func TestBadFlags(t *testing.T) {
	bin := build(t)
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{nil, "--broker: required"},
		{[]string{"--broker", "kafak", "--addr", "x:1"}, `--broker: "kafak" is not one of`},
		{[]string{"--broker", "kafka"}, "--addr: required with --broker kafka"},
		{[]string{"--broker", "kafka", "--addr", "x:1", "--url", "nats://x"}, "--url: not used with --broker kafka"},
		{[]string{"--broker", "nats"}, "--url: required with --broker nats"},
		{[]string{"--broker", "rabbitmq", "--url", "http://u:secret@x/"}, `--url: scheme "http", want amqp://`},
		{[]string{"--broker", "redis", "--addr", "x:1", "--url", "redis://x"}, "give one"},
		{[]string{"--broker", "redis", "--addr", "x:1", "--drop-every", "-1"}, "--drop-every: is negative"},
		{[]string{"--broker", "redis", "--addr", "x:1", "--reorder-every", "two"}, `"two" for "--reorder-every"`},
		{[]string{"--broker", "redis", "--addr", "x:1", "--in", "t", "--out", "t"}, "--out: is the input topic too"},
		{[]string{"--broker", "redis", "--addr", "x:1", "--group", ""}, "--group: must not be empty"},
		{[]string{"--broker", "redis", "--addr", "x:1", "--correlation-header", service.HeaderCausation}, "--correlation-header: is causation-id"},
		{[]string{"--broker", "redis", "--addr", "x:1", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"--broker", "redis", "--addr", "x:1", "extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		name := strings.Join(tc.args, " ")
		if name == "" {
			name = "no flags"
		}
		t.Run(name, func(t *testing.T) {
			code, stderr := exitCode(t, bin, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, tc.want)
			}
			if strings.Contains(stderr, "secret") {
				t.Errorf("stderr shows the password:\n%s", stderr)
			}
		})
	}
	if code, stderr := exitCode(t, bin, "--help"); code != 0 || !strings.Contains(stderr, "--reorder-every") {
		t.Errorf("--help: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestBrokerErrors: a broker that cannot be reached is exit 1 with the
// address shown, its password masked.
func TestBrokerErrors(t *testing.T) {
	bin := build(t)
	dead := deadAddr(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--broker", "nats", "--url", "nats://bob:s3cret@" + dead}, "nats://bob:xxxxx@" + dead},
		{[]string{"--broker", "rabbitmq", "--url", "amqp://bob:s3cret@" + dead + "/"}, "amqp://bob:xxxxx@" + dead},
		{[]string{"--broker", "redis", "--url", "redis://bob:s3cret@" + dead}, "redis://bob:xxxxx@" + dead},
		{[]string{"--broker", "redis", "--addr", dead}, "redis at " + dead},
	}
	for _, tc := range tests {
		t.Run(tc.args[1], func(t *testing.T) {
			code, stderr := exitCode(t, bin, tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "s3cret") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1, %q and no password", code, stderr, tc.want)
			}
		})
	}
}

// deadAddr is a 127.0.0.1 address nobody listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestOnBrokers runs the binary on embedded brokers: it says it is ready,
// answers every command with its correlation header, misbehaves as told,
// and exits 0 on SIGTERM.
func TestOnBrokers(t *testing.T) {
	bin := build(t)
	topics := []string{service.DefaultIn, service.DefaultOut}
	tests := []struct {
		name  string
		start func(t *testing.T) (args []string, b bus.Bus)
		extra []string
		want  int // answers to the 8 commands
	}{
		{"nats", startNATS, nil, 8},
		{"nats drop every 2", startNATS, []string{"--drop-every", "2"}, 4},
		{"kafka", func(t *testing.T) ([]string, bus.Bus) {
			t.Helper()
			return startKafka(t, topics)
		}, nil, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args, b := tc.start(t)
			answers, err := b.Subscribe(t.Context(), service.DefaultOut, "checker")
			if err != nil {
				t.Fatal(err)
			}
			wait := startBinary(t, bin, append(args, tc.extra...)...)
			for i := 1; i <= 8; i++ {
				account := "acct-" + strconv.Itoa(i%3)
				payload, _ := json.Marshal(bank.Msg{Type: bank.CmdOpen, Account: account, Amount: int64(i)})
				m := &bus.Message{ID: fmt.Sprintf("cmd-%d", i), Topic: service.DefaultIn, Key: account, Payload: payload}
				m.SetHeader(service.DefaultCorrelationHeader, fmt.Sprintf("corr-%d", i))
				if err := b.Publish(t.Context(), m); err != nil {
					t.Fatal(err)
				}
			}
			seen := map[string]bool{}
			deadline := time.After(15 * time.Second)
			for len(seen) < tc.want {
				select {
				case d := <-answers:
					m := d.Message()
					if m.Header(bus.HeaderType) != bank.EvOpened || m.Header(service.HeaderCausation) == "" {
						t.Errorf("answer %s: headers %v", m.ID, m.Headers)
					}
					seen[m.Header(service.DefaultCorrelationHeader)] = true
					_ = d.Ack(t.Context()) // a lost ack only redelivers to this checker
				case <-deadline:
					t.Fatalf("%d of %d answers in 15 s: %v", len(seen), tc.want, seen)
				}
			}
			if code := wait(); code != 0 {
				t.Fatalf("exit %d after SIGTERM, want 0", code)
			}
		})
	}
}

// startBinary starts bin and waits for its ready line; wait sends it
// SIGTERM and returns its exit code.
func startBinary(t *testing.T, bin string, args ...string) (wait func() int) {
	t.Helper()
	var stderr bytes.Buffer
	c := exec.CommandContext(t.Context(), bin, args...)
	c.Stderr = &stderr
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == readyLine {
				ready <- true
				break
			}
		}
		close(ready)
		_, _ = io.Copy(io.Discard, stdout) // the child must never block on stdout
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = c.Wait()
			t.Fatalf("bank-service exited before ready: %s", stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("bank-service not ready in 15 s: %s", stderr.String())
	}
	return func() int {
		if err := c.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("bank-service did not exit within 10 s of SIGTERM")
		}
		if code := c.ProcessState.ExitCode(); code != 0 {
			t.Logf("stderr: %s", stderr.String())
			return code
		}
		return 0
	}
}

// startNATS starts an embedded JetStream server for the test.
func startNATS(t *testing.T) ([]string, bus.Bus) {
	t.Helper()
	e, err := env.Start(t.Context(), env.Spec{Components: []env.ComponentSpec{
		{Kind: env.KindNATS, Provider: env.Embedded},
	}}, env.WithProvider(embedded.New()))
	if err != nil {
		t.Fatalf("embedded nats cannot start: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	url := e.Component("nats").Endpoint().URL
	b, err := natsbus.New(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return []string{"--broker", "nats", "--url", url}, b
}

// startKafka starts an embedded Kafka with topics for the test.
func startKafka(t *testing.T, topics []string) ([]string, bus.Bus) {
	t.Helper()
	e, err := embedded.StartKafka(t.Context(), embedded.Topics(topics...))
	if err != nil {
		t.Fatalf("embedded kafka cannot start: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	addrs := e.Component("kafka").Endpoint().Addrs
	b, err := kafkabus.New(addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return []string{"--broker", "kafka", "--addr", strings.Join(addrs, ",")}, b
}
