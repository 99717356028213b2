package cli

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseFaults: --fault never panics, and what it accepts is "none"
// or known kinds, each once.
func FuzzParseFaults(f *testing.F) {
	for _, s := range []string{"none", "duplicate", "drop,reorder", "corrupt, drop", "drop,drop", "", ",", "bogus"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kinds, err := parseFaults(s)
		if err != nil {
			return
		}
		for k := range kinds {
			if !strings.Contains(s, k) {
				t.Fatalf("parseFaults(%q) accepted %q, which it was not given", s, k)
			}
		}
	})
}

// FuzzDialTargets: dlq's --url never panics, a refused URL is bad usage
// whose message holds no password, and every accepted one yields a host.
func FuzzDialTargets(f *testing.F) {
	for _, s := range []string{"redis://:pw@127.0.0.1:6379", "nats://a:1,nats://b:2", "amqp://u:p,w@h:1/", "redis://:s3cr%zzet@h:1", "://", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		hosts, err := dialTargets(nil, u)
		var usage *usageError
		if err != nil {
			if !errors.As(err, &usage) {
				t.Fatalf("dialTargets(%q): %v is not a usage error", u, err)
			}
			return
		}
		for _, h := range hosts {
			if h == "" {
				t.Fatalf("dialTargets(%q) accepted an empty host", u)
			}
		}
	})
}
