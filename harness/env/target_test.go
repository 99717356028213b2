package env_test

import (
	"errors"
	"testing"

	"github.com/edkit-dev/edkit/harness/env"
)

func TestCheckTarget(t *testing.T) {
	tests := []struct {
		addr  string
		allow []string
		ok    bool
	}{
		{"127.0.0.1:9092", nil, true},
		{"127.8.9.1:9092", nil, true},
		{"[::1]:4222", nil, true},
		{"localhost:6379", nil, true},
		{"10.0.0.1:4222", nil, false},
		{"broker.internal:9092", nil, false},
		{"127.0.0.1.evil.com:9092", nil, false},
		{"10.0.0.1:4222", []string{"10.0.0.1"}, true},
		{"10.0.0.1:4222", []string{"10.0.0.1:4222"}, true},
		{"10.0.0.1:5222", []string{"10.0.0.1:4222"}, false},
		{"10.0.0.7:4222", []string{"10.0.0.0/24"}, true},
		{"10.0.1.7:4222", []string{"10.0.0.0/24"}, false},
		{"broker.internal:9092", []string{"BROKER.internal"}, true},
		{"0.0.0.0:9092", nil, false},
	}
	for _, tt := range tests {
		err := env.CheckTarget(tt.addr, tt.allow)
		if (err == nil) != tt.ok {
			t.Errorf("CheckTarget(%q, %v) = %v, want ok %v", tt.addr, tt.allow, err, tt.ok)
		}
		if err != nil && !errors.Is(err, env.ErrRemoteTarget) {
			t.Errorf("CheckTarget(%q): %v is not ErrRemoteTarget", tt.addr, err)
		}
	}
}
