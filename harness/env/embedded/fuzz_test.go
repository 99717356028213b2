package embedded_test

import (
	"errors"
	"testing"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
)

// FuzzCheckSpec: the embedded provider's options never panic, every
// refusal names its option (a FieldError wrapping ErrBadOption), and an
// accepted partition or broker count is within its bound.
func FuzzCheckSpec(f *testing.F) {
	f.Add("kafka", "partitions", "8")
	f.Add("kafka", "brokers", "1000")
	f.Add("nats", "mode", "child")
	f.Add("kafka", "topics", "a, b,,c")
	f.Add("redis", "colour", "red")
	f.Fuzz(func(t *testing.T, kind, key, value string) {
		spec := env.ComponentSpec{Kind: env.Kind(kind), Provider: env.Embedded, Options: map[string]string{key: value}}
		err := embedded.New().CheckSpec(spec)
		if err == nil {
			return
		}
		var fe *env.FieldError
		if !errors.As(err, &fe) || fe.Field != "options."+key || !errors.Is(err, embedded.ErrBadOption) {
			t.Fatalf("CheckSpec(%s %q=%q): %v does not name its option", kind, key, value, err)
		}
	})
}
