package env_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/env"
)

// checkingProvider is a fakeProvider that knows one option, "size", and
// counts its starts.
type checkingProvider struct {
	fakeProvider
	started int
}

func (p *checkingProvider) CheckSpec(s env.ComponentSpec) error {
	var errs []error
	for k, v := range s.Options {
		if k != "size" || v != "1" {
			errs = append(errs, &env.FieldError{Field: "options." + k, Err: fmt.Errorf("%s=%q refused", k, v)})
		}
	}
	return errors.Join(errs...)
}

func TestCheck(t *testing.T) {
	const file = `components:
  - {kind: redis, provider: process}
  - kind: kafka
    provider: process
    options:
      size: "1"
      colour: red
  - {kind: nats, provider: external, addrs: [127.0.0.1:1]}
`
	spec, err := env.ParseSpec("s.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	p := &checkingProvider{fakeProvider: fakeProvider{name: env.Process}}
	err = env.Check(spec, env.WithProvider(p))
	if !errors.Is(err, env.ErrBadSpec) {
		t.Fatalf("Check: %v, want ErrBadSpec", err)
	}
	// The refused option at its value; the component whose provider is
	// missing at its provider key; nothing about the clean component.
	for _, want := range []string{`s.yaml:7:15: kafka: options.colour: colour="red" refused`,
		`s.yaml:8:28: nats: provider "external" is not available here`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "redis") || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("Check cried wolf or repeated itself:\n%v", err)
	}
	if _, err := env.Start(t.Context(), spec, env.WithProvider(p)); !errors.Is(err, env.ErrBadSpec) || len(p.closed) > 0 {
		t.Fatalf("Start: %v (closed %v): want ErrBadSpec before anything starts", err, p.closed)
	}

	// Clean: the same spec without the stray option and the missing
	// provider passes, from a file or built in code (no positions).
	clean, err := env.ParseSpec("ok.yaml", []byte("components:\n  - {kind: kafka, provider: process, options: {size: \"1\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Check(clean, env.WithProvider(p)); err != nil {
		t.Errorf("a clean spec: %v", err)
	}
	code := env.Spec{Components: []env.ComponentSpec{{Kind: env.KindKafka, Provider: env.Process, Options: map[string]string{"size": "2"}}}}
	if err := env.Check(code, env.WithProvider(p)); !errors.Is(err, env.ErrBadSpec) || !strings.Contains(err.Error(), `size="2" refused`) {
		t.Errorf("a spec built in code: %v", err)
	}
}
