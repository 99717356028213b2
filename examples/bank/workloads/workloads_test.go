// Package workloads_test runs the bank's accounts as a separate process
// (cmd/bank-service) under edkit's black-box mode on the four brokers, the
// way a user tests a service of theirs in any language: from the workload
// file, through the broker only.
package workloads_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/edkit-dev/edkit/blackbox"
	"github.com/edkit-dev/edkit/cmd/edload/cli"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/harness/env/process"
	"github.com/edkit-dev/edkit/reports"
)

const workload = "accounts.yaml"

// TestMain builds bank-service and puts it first on PATH, where the
// workload's service command finds it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bank-workloads-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer func() { _ = os.RemoveAll(dir) }()
		build := exec.CommandContext(context.Background(), "go", "build", "-o", filepath.Join(dir, "bank-service"), "../cmd/bank-service")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build bank-service: %v\n%s", err, out)
			return 1
		}
		_ = os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		defer brokers.close()
		return m.Run()
	}()
	os.Exit(code)
}

// brokers are started once per kind and shared by every run of it (each
// run's inputs carry IDs of their own, and outputs of other runs are
// counted apart): a broker start costs more than a short run.
var brokers = &shared{envs: map[string]*env.Environment{}}

type shared struct {
	mu   sync.Mutex
	envs map[string]*env.Environment
}

func (s *shared) endpoint(t *testing.T, kind string) env.Endpoint {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.envs[kind]; e != nil {
		return e.Component(kind).Endpoint()
	}
	spec := env.ComponentSpec{Name: kind, Kind: env.Kind(kind), Provider: env.Process}
	if kind == harness.BrokerKafka {
		spec = embedded.KafkaSpec(embedded.Topics("bank.commands", "bank.events"))
		spec.Name = kind
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{spec}},
		env.WithProvider(embedded.New()), env.WithProvider(process.New()))
	if err != nil {
		t.Fatalf("start %s: %v", kind, err)
	}
	s.envs[kind] = e
	return e.Component(kind).Endpoint()
}

func (s *shared) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.envs {
		_ = e.Close()
	}
}

// run runs the workload on a shared broker of kind, the service started
// with extra flags.
func run(t *testing.T, kind string, extra ...string) *reports.Run {
	t.Helper()
	w, err := blackbox.ParseFile(workload)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range extra {
		w.Service.Command = append(w.Service.Command, template.Must(template.New("").Parse(a)))
	}
	w.Broker = harness.Broker{Kind: kind, Provider: env.External, Endpoint: brokers.endpoint(t, kind)}
	o, err := w.Options()
	if err != nil {
		t.Fatal(err)
	}
	o.Load.Duration, o.Out = time.Second, t.TempDir()
	rep, err := harness.Run(t.Context(), blackbox.New(w), o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func verdict(t *testing.T, rep *reports.Run, inv string) check.Result {
	t.Helper()
	for _, r := range rep.Invariants {
		if r.Invariant == inv {
			return r
		}
	}
	t.Fatalf("no verdict for %s", inv)
	return check.Result{}
}

// TestSeparateServiceOnFourBrokers: the clean service passes every
// invariant and the SLO on each broker; a service that drops, duplicates
// or reorders its outputs fails exactly the invariant for it.
func TestSeparateServiceOnFourBrokers(t *testing.T) {
	cases := []struct {
		name, flag, fails string
	}{
		{"clean", "", ""},
		{"drop", "--drop-every=7", blackbox.InvOutputForEveryInput},
		{"duplicate", "--duplicate-every=5", blackbox.InvNoDuplicateOutput},
		// Every third answer: under seq:4 every fourth would be each
		// account's last, with no later answer of its own to swap with.
		{"reorder", "--reorder-every=3", blackbox.InvPerKeyOutputOrder},
	}
	for _, kind := range []string{harness.BrokerKafka, harness.BrokerNATS, harness.BrokerRedis, harness.BrokerRabbitMQ} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					var extra []string
					if c.flag != "" {
						extra = append(extra, c.flag)
					}
					rep := run(t, kind, extra...)
					judge(t, rep, c.fails)
				})
			}
		})
	}
}

func judge(t *testing.T, rep *reports.Run, fails string) {
	t.Helper()
	for _, r := range rep.Invariants {
		if r.Invariant != fails && !r.Valid {
			t.Errorf("%s failed: %s; first: %v", r.Invariant, r.Note, r.Anomalies)
		}
	}
	for _, th := range rep.Thresholds {
		if !th.OK && fails == "" {
			t.Errorf("threshold %s failed: %+v", th.Name, th)
		}
	}
	if fails == "" {
		return
	}
	r := verdict(t, rep, fails)
	if r.Valid || len(r.Anomalies) == 0 {
		t.Fatalf("%s passed: %+v", fails, r)
	}
}

// TestEdloadRunFile: `edload run -f` drives the same workload from the
// command line, on a broker it starts, and exits 0 for the clean service.
func TestEdloadRunFile(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := cli.Execute(t.Context(), []string{"run", "-f", workload, "--duration", "1s", "--out", t.TempDir(), "--replace"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"PASS       output-for-every-input", "PASS       per-key-output-order", "inputs answered"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestAsyncAPIDrivenRun: the service driven from its AsyncAPI contract —
// inputs generated from the messages it receives, every output held to the
// messages it sends — passes as the service is; held to a contract that
// forbids one of its answers ("opened" struck out), every open's answer
// breaks it.
func TestAsyncAPIDrivenRun(t *testing.T) {
	doc, err := os.ReadFile("bank-service.asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	strict := filepath.Join(t.TempDir(), "strict.asyncapi.yaml")
	if err := os.WriteFile(strict, bytes.Replace(doc, []byte("enum: [opened, "), []byte("enum: ["), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		opts  []blackbox.ParseOption
		fails bool
	}{{"contract", nil, false}, {"stricter contract", []blackbox.ParseOption{blackbox.WithAsyncAPI(strict)}, true}} {
		t.Run(c.name, func(t *testing.T) {
			w, err := blackbox.ParseFile("accounts-asyncapi.yaml", c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			w.Broker = harness.Broker{Kind: harness.BrokerKafka, Provider: env.External, Endpoint: brokers.endpoint(t, harness.BrokerKafka)}
			o, err := w.Options()
			if err != nil {
				t.Fatal(err)
			}
			o.Load.Duration, o.Out = time.Second, t.TempDir()
			rep, err := harness.Run(t.Context(), blackbox.New(w), o)
			if err != nil {
				t.Fatal(err)
			}
			r := verdict(t, rep, blackbox.InvOutputsMatch)
			if r.Checked < 90 {
				t.Errorf("%d outputs checked against the contract", r.Checked)
			}
			if !c.fails {
				judge(t, rep, "")
				return
			}
			if r.Valid || len(r.Anomalies) == 0 || !strings.Contains(r.Anomalies[0].Summary, "breaks the AsyncAPI contract") {
				t.Fatalf("the stricter contract was not enforced: %+v", r)
			}
		})
	}
}
