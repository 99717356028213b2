package process_test

import (
	"errors"
	"testing"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/process"
)

// TestCheckSpec: the process provider takes no options, and says so
// rather than ignoring one.
func TestCheckSpec(t *testing.T) {
	p := process.New()
	if err := p.CheckSpec(env.ComponentSpec{Kind: env.KindRedis, Provider: env.Process}); err != nil {
		t.Errorf("no options: %v", err)
	}
	err := p.CheckSpec(env.ComponentSpec{Kind: env.KindRedis, Provider: env.Process, Options: map[string]string{"maxmemory": "1g"}})
	var fe *env.FieldError
	if !errors.As(err, &fe) || fe.Field != "options.maxmemory" {
		t.Errorf("an option: %v, want a FieldError on options.maxmemory", err)
	}
}
