package container_test

import (
	"errors"
	"testing"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/container"
)

// TestCheckSpec: the container provider knows one option, kafka's
// partitions, within bounds; anything else is a FieldError naming it.
func TestCheckSpec(t *testing.T) {
	tests := []struct {
		kind  env.Kind
		opts  map[string]string
		field string // "" when the spec is clean
	}{
		{env.KindKafka, nil, ""},
		{env.KindKafka, map[string]string{"partitions": "8"}, ""},
		{env.KindKafka, map[string]string{"partitions": "0"}, "options.partitions"},
		{env.KindKafka, map[string]string{"partitions": "1000000000"}, "options.partitions"},
		{env.KindKafka, map[string]string{"partitions": "many"}, "options.partitions"},
		{env.KindRedis, map[string]string{"partitions": "8"}, "options.partitions"},
		{env.KindNATS, map[string]string{"replicas": "3"}, "options.replicas"},
	}
	p := container.New()
	for _, tt := range tests {
		err := p.CheckSpec(env.ComponentSpec{Kind: tt.kind, Provider: env.Container, Options: tt.opts})
		var fe *env.FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s %v: %v, want none", tt.kind, tt.opts, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s %v: %v, want a FieldError on %s", tt.kind, tt.opts, err, tt.field)
		}
	}
}
