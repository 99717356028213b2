package loadgen

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Rate: 100, Duration: time.Second, Workers: 4, Keys: 10, PayloadSize: 64}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []error
	}{
		{"valid", func(*Config) {}, nil},
		{"zero rate", func(c *Config) { c.Rate = 0 }, []error{ErrBadRate}},
		{"NaN rate", func(c *Config) { c.Rate = math.NaN() }, []error{ErrBadRate}},
		{"zero duration", func(c *Config) { c.Duration = 0 }, []error{ErrBadDuration}},
		{"no workers", func(c *Config) { c.Workers = 0 }, []error{ErrBadWorkers}},
		{"no keys", func(c *Config) { c.Keys = 0 }, []error{ErrBadKeys}},
		{"negative payload", func(c *Config) { c.PayloadSize = -1 }, []error{ErrBadPayloadSize}},
		{"too many workers", func(c *Config) { c.Workers = MaxWorkers + 1 }, []error{ErrBadWorkers}},
		{"payload too large", func(c *Config) { c.PayloadSize = MaxPayloadSize + 1 }, []error{ErrBadPayloadSize}},
		{"everything wrong at once", func(c *Config) { *c = Config{Rate: -1, PayloadSize: -3} },
			[]error{ErrBadRate, ErrBadDuration, ErrBadWorkers, ErrBadKeys, ErrBadPayloadSize}},
	}
	all := []error{ErrBadRate, ErrBadDuration, ErrBadWorkers, ErrBadKeys, ErrBadPayloadSize}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			err := c.Validate()
			if (err == nil) != (len(tt.want) == 0) {
				t.Fatalf("Validate() = %v, want errors %v", err, tt.want)
			}
			for _, s := range all {
				wanted := false
				for _, w := range tt.want {
					wanted = wanted || errors.Is(w, s)
				}
				if errors.Is(err, s) != wanted {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, !wanted, wanted)
				}
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	_, err := Run(t.Context(), Config{}, DriverFunc(func(context.Context, Request) error { return nil }))
	if !errors.Is(err, ErrBadRate) || !errors.Is(err, ErrBadKeys) {
		t.Fatalf("Run(empty config) = %v, want joined validation errors", err)
	}
	_, err = Run(t.Context(), Config{Rate: 1, Duration: time.Second, Workers: 1, Keys: 1}, nil)
	if !errors.Is(err, ErrNilDriver) {
		t.Fatalf("Run(nil driver) = %v, want ErrNilDriver", err)
	}
}
