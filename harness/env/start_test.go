package env_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/edkit-dev/edkit/harness/env"
)

// fakeProvider starts components that only record being closed.
type fakeProvider struct {
	name env.ProviderName
	fail map[string]bool

	mu     sync.Mutex
	closed []string
}

type fakeComp struct {
	p    *fakeProvider
	spec env.ComponentSpec
	once sync.Once
}

func (c *fakeComp) Name() string               { return c.spec.Name }
func (c *fakeComp) Kind() env.Kind             { return c.spec.Kind }
func (c *fakeComp) Provider() env.ProviderName { return c.p.name }
func (c *fakeComp) Endpoint() env.Endpoint     { return env.Endpoint{Addrs: []string{"127.0.0.1:1"}} }
func (c *fakeComp) Close(context.Context) error {
	err := env.ErrClosed
	c.once.Do(func() {
		c.p.mu.Lock()
		c.p.closed = append(c.p.closed, c.spec.Name)
		c.p.mu.Unlock()
		err = nil
	})
	return err
}

func (p *fakeProvider) Name() env.ProviderName  { return p.name }
func (p *fakeProvider) Supports(env.Kind) error { return nil }
func (p *fakeProvider) Start(_ context.Context, s env.ComponentSpec) (env.Component, error) {
	if p.fail[s.Name] {
		return nil, errors.New("boom")
	}
	return &fakeComp{p: p, spec: s}, nil
}

func TestStartAndClose(t *testing.T) {
	p := &fakeProvider{name: env.Embedded}
	spec := env.Spec{Components: []env.ComponentSpec{
		{Kind: env.KindKafka, Provider: env.Embedded},
		{Kind: env.KindNATS, Provider: env.Embedded},
	}}
	e, err := env.Start(context.Background(), spec, env.WithProvider(p))
	if err != nil {
		t.Fatal(err)
	}
	if c := e.Component("kafka"); c == nil || c.Kind() != env.KindKafka {
		t.Fatalf("component kafka = %v", c)
	}
	if got := len(e.Components()); got != 2 {
		t.Fatalf("%d components", got)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if len(p.closed) != 2 || p.closed[0] != "nats" {
		t.Fatalf("closed %v, want reverse start order", p.closed)
	}
	if err := e.Close(); !errors.Is(err, env.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

func TestStartFailureClosesWhatStarted(t *testing.T) {
	p := &fakeProvider{name: env.Process, fail: map[string]bool{"redis": true}}
	spec := env.Spec{Components: []env.ComponentSpec{
		{Kind: env.KindRabbitMQ, Provider: env.Process},
		{Kind: env.KindRedis, Provider: env.Process},
	}}
	_, err := env.Start(context.Background(), spec, env.WithProvider(p))
	if !errors.Is(err, env.ErrStart) || !strings.Contains(err.Error(), "redis") {
		t.Fatalf("err = %v, want ErrStart naming redis", err)
	}
	if len(p.closed) != 1 || p.closed[0] != "rabbitmq" {
		t.Fatalf("closed %v, want the started rabbitmq closed", p.closed)
	}
}

func TestSpecValidate(t *testing.T) {
	spec := env.Spec{Components: []env.ComponentSpec{
		{Kind: "zookeeper", Provider: env.Embedded},
		{Kind: env.KindRedis, Provider: "cloud"},
		{Kind: env.KindRedis, Provider: env.External},
		{Kind: env.KindNATS, Provider: env.Process, URL: "nats://x"},
	}}
	err := spec.Validate()
	for _, want := range []string{`unknown kind "zookeeper"`, `unknown provider "cloud"`, "needs addrs or url",
		`duplicate name "redis"`, "addrs and url are for the external provider"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}
	if err := (env.Spec{}).Validate(); err == nil {
		t.Error("empty spec accepted")
	}
	_, err = env.Start(context.Background(), env.Spec{Components: []env.ComponentSpec{{Kind: env.KindRedis, Provider: env.Container}}})
	if err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("Start without the provider = %v", err)
	}
}

func TestEndpointRedacted(t *testing.T) {
	e := env.Endpoint{URL: "amqp://guest:secret@127.0.0.1:5672/"}
	if got := e.Redacted(); strings.Contains(got, "secret") || !strings.Contains(got, "127.0.0.1:5672") {
		t.Fatalf("Redacted() = %q", got)
	}
}

func TestProxiedByStart(t *testing.T) {
	p := &fakeProvider{name: env.Process}
	e, err := env.Start(t.Context(), env.Spec{Components: []env.ComponentSpec{{Kind: env.KindRedis, Provider: env.Process, Proxied: true}}},
		env.WithProvider(p))
	if err != nil {
		t.Fatal(err)
	}
	c := e.Component("redis")
	if c.Endpoint().Addrs[0] == "127.0.0.1:1" {
		t.Fatal("endpoint not rewritten to the proxy")
	}
	if f, ok := env.As[env.Fronted](c); !ok || len(f.Fronts()) != 1 || f.Fronts()[0].Upstream() != "127.0.0.1:1" {
		t.Fatal("proxy does not front the provider's address")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if len(p.closed) != 1 {
		t.Fatal("closing the proxied component did not close the provider's")
	}

	_, err = env.Start(t.Context(), env.Spec{Components: []env.ComponentSpec{{Kind: env.KindKafka, Provider: env.Process, Proxied: true}}},
		env.WithProvider(&fakeProvider{name: env.Process}))
	if !errors.Is(err, env.ErrStart) || !strings.Contains(err.Error(), "must advertise the proxies") {
		t.Fatalf("proxied Kafka on a provider that cannot front it: %v", err)
	}
}

// flakyPorts fails its first starts as if another process took the port.
type flakyPorts struct {
	fakeProvider
	failures int
	calls    int
}

func (p *flakyPorts) Start(ctx context.Context, s env.ComponentSpec) (env.Component, error) {
	p.calls++
	if p.calls <= p.failures {
		return nil, errors.New("redis-server exited: Could not create server TCP listening socket 127.0.0.1:4242: bind: Address already in use")
	}
	return p.fakeProvider.Start(ctx, s)
}

func TestStartRetriesATakenPort(t *testing.T) {
	p := &flakyPorts{fakeProvider: fakeProvider{name: env.Process}, failures: 2}
	e, err := env.Start(t.Context(), env.Spec{Components: []env.ComponentSpec{{Kind: env.KindRedis, Provider: env.Process}}}, env.WithProvider(p))
	if err != nil {
		t.Fatalf("start after two lost ports: %v", err)
	}
	_ = e.Close()
	if p.calls != 3 {
		t.Fatalf("%d starts, want 3", p.calls)
	}
	p = &flakyPorts{fakeProvider: fakeProvider{name: env.Process}, failures: 100}
	if _, err := env.Start(t.Context(), env.Spec{Components: []env.ComponentSpec{{Kind: env.KindRedis, Provider: env.Process}}}, env.WithProvider(p)); err == nil {
		t.Fatal("a port that is never free did not fail")
	}
	if p.calls != 4 {
		t.Fatalf("%d starts, want the bound of 4", p.calls)
	}
}
