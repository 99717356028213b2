package env

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ComponentSpec asks for one component.
type ComponentSpec struct {
	// Name identifies the component in the environment; it defaults to the
	// kind, so a spec with one broker of each kind needs no names.
	Name     string       `yaml:"name"`
	Kind     Kind         `yaml:"kind"`
	Provider ProviderName `yaml:"provider"`
	// Image overrides the container provider's default image.
	Image string `yaml:"image"`
	// Addrs and URL locate an external component.
	Addrs []string `yaml:"addrs"`
	URL   string   `yaml:"url"`
	// Durable asks for a configuration that keeps what it acknowledged
	// across a kill and restart (kfake persisted with synced writes, NATS
	// file storage, Redis AOF, ...).
	Durable bool `yaml:"durable"`
	// Proxied fronts the component with a network-fault proxy, so faults
	// (latency, resets, partitions) can be injected on any provider.
	Proxied bool `yaml:"proxied"`
	// Options are kind- or provider-specific settings, e.g. "brokers": "3"
	// or "partitions": "8" for Kafka.
	Options map[string]string `yaml:"options"`
}

// Spec is a whole environment: the components to start together.
type Spec struct {
	Components []ComponentSpec `yaml:"components"`

	src *source // set by ParseSpec, for errors that point into the file
}

// withDefaults fills names.
func (s Spec) withDefaults() Spec {
	out := Spec{Components: make([]ComponentSpec, len(s.Components)), src: s.src}
	for i, c := range s.Components {
		if c.Name == "" {
			c.Name = string(c.Kind)
		}
		out.Components[i] = c
	}
	return out
}

// Validate reports every problem of the spec at once.
func (s Spec) Validate() error {
	s = s.withDefaults()
	var errs []error
	if len(s.Components) == 0 {
		errs = append(errs, errors.New("env: spec names no components"))
	}
	seen := map[string]bool{}
	for i, c := range s.Components {
		where := fmt.Sprintf("components[%d] (%s)", i, c.Name)
		if !validKind(c.Kind) {
			errs = append(errs, fmt.Errorf("env: %s: unknown kind %q (want one of %s)", where, c.Kind, kindList()))
		}
		switch c.Provider {
		case Embedded, Process, Container:
			if len(c.Addrs) > 0 || c.URL != "" {
				errs = append(errs, fmt.Errorf("env: %s: addrs and url are for the external provider", where))
			}
		case External:
			if len(c.Addrs) == 0 && c.URL == "" {
				errs = append(errs, fmt.Errorf("env: %s: the external provider needs addrs or url", where))
			}
		default:
			errs = append(errs, fmt.Errorf("env: %s: unknown provider %q (want embedded, process, container or external)", where, c.Provider))
		}
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("env: %s: duplicate name %q", where, c.Name))
		}
		seen[c.Name] = true
	}
	return errors.Join(errs...)
}

func validKind(k Kind) bool {
	for _, v := range Kinds() {
		if v == k {
			return true
		}
	}
	return false
}

func kindList() string {
	var ks []string
	for _, k := range Kinds() {
		ks = append(ks, string(k))
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
