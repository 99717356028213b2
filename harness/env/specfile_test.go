package env_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/env"
)

func TestParseSpec(t *testing.T) {
	good := `components:
  - kind: kafka
    provider: embedded
    options: {partitions: "8"}
  - {kind: redis, provider: process, durable: true}
  - {name: staging-nats, kind: nats, provider: external, url: "nats://u:p@10.0.0.1:4222"}
`
	s, err := env.ParseSpec("good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Components) != 3 || s.Components[0].Options["partitions"] != "8" || !s.Components[1].Durable ||
		s.Components[2].Name != "staging-nats" {
		t.Fatalf("parsed %+v", s)
	}

	tests := []struct{ name, in, want string }{
		{"empty", "", "bad.yaml:1:1: empty spec"},
		{"not a mapping", "- kafka\n", "bad.yaml:1:1: expected a mapping with components"},
		{"unknown top key", "compnents: []\n", `bad.yaml:1:1: spec: unknown key "compnents"`},
		// yaml.v3 does not check repeated keys in a yaml.Node: each took
		// the last value (a list was joined) until yamlfile.Keys.
		{"repeated kind", "components:\n  - kind: redis\n    kind: kafka\n    provider: process\n", `bad.yaml:3:5: components[0]: duplicate key "kind"`},
		{"repeated components", "components:\n  - {kind: redis, provider: process}\ncomponents:\n  - {kind: kafka, provider: embedded}\n", `bad.yaml:3:1: spec: duplicate key "components"`},
		{"repeated option", "components:\n  - {kind: kafka, provider: embedded, options: {partitions: \"1\", partitions: \"8\"}}\n", `components[0].options: duplicate key "partitions"`},
		{"unknown kind", "components:\n  - {kind: zookeeper, provider: embedded}\n", `bad.yaml:2:12: components[0].kind: unknown kind "zookeeper"`},
		{"unknown provider", "components:\n  - kind: redis\n    provider: cloud\n", `bad.yaml:3:15: components[0].provider: unknown provider "cloud"`},
		{"bad bool", "components:\n  - {kind: redis, provider: process, durable: maybe}\n", "bad.yaml:2:47: components[0].durable: expected true or false"},
		{"missing provider", "components:\n  - kind: redis\n", "bad.yaml:2:5: components[0]: missing required key provider"},
		{"unknown component key", "components:\n  - {kind: redis, provider: process, port: 1}\n", `bad.yaml:2:38: components[0]: unknown key "port"`},
		{"syntax", "components: [\n", "bad.yaml:1:1: invalid YAML"},
		{"semantic", "components:\n  - {kind: redis, provider: external}\n", "needs addrs or url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.ParseSpec("bad.yaml", []byte(tt.in))
			var se *env.SpecError
			if err == nil || !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SpecError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want %q", err, tt.want)
			}
		})
	}
}

// TestLoadSpecBounded: a spec file is read through a size limit, so an
// endless one is an error, not an exhausted machine.
func TestLoadSpecBounded(t *testing.T) {
	_, err := env.LoadSpec("/dev/zero")
	var se *env.SpecError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "/dev/zero: cannot read spec: larger than 4194304 bytes") {
		t.Fatalf("LoadSpec(/dev/zero) = %v", err)
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte("components:\n  - {kind: kafka, provider: embedded}\n"))
	f.Add([]byte("components: [{kind: redis, provider: process, options: {a: b}}]"))
	f.Add([]byte("- x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := env.ParseSpec("fuzz.yaml", data)
		if err != nil {
			var se *env.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a *SpecError: %v", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseSpec accepted a spec Validate rejects: %v", err)
		}
	})
}
