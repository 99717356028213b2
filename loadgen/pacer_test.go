package loadgen

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestConstantPacerPace(t *testing.T) {
	tests := []struct {
		name     string
		rate     float64
		elapsed  time.Duration
		hits     uint64
		wantWait time.Duration
		wantStop bool
	}{
		{"first hit is due at once", 100, 0, 0, 0, false},
		{"second hit waits one interval", 100, 0, 1, 10 * time.Millisecond, false},
		{"part of the interval gone", 100, 4 * time.Millisecond, 1, 6 * time.Millisecond, false},
		{"exactly on time", 100, 10 * time.Millisecond, 1, 0, false},
		{"behind schedule never waits", 100, time.Second, 5, 0, false},
		{"ahead of schedule waits", 1000, 10 * time.Millisecond, 20, 10 * time.Millisecond, false},
		{"fractional rate", 0.5, 0, 1, 2 * time.Second, false},
		{"high rate", 100000, 0, 3, 30 * time.Microsecond, false},
		{"zero rate stops", 0, 0, 0, 0, true},
		{"negative rate stops", -1, 0, 0, 0, true},
		{"NaN rate stops", math.NaN(), 0, 0, 0, true},
		{"infinite rate stops", math.Inf(1), 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, stop := ConstantPacer{Rate: tt.rate}.Pace(tt.elapsed, tt.hits)
			if wait != tt.wantWait || stop != tt.wantStop {
				t.Fatalf("Pace(%v, %d) = (%v, %v), want (%v, %v)", tt.elapsed, tt.hits, wait, stop, tt.wantWait, tt.wantStop)
			}
		})
	}
}

func TestConstantPacerDue(t *testing.T) {
	p := ConstantPacer{Rate: 2000}
	for _, tt := range []struct {
		hit  uint64
		want time.Duration
	}{{0, 0}, {1, 500 * time.Microsecond}, {2000, time.Second}, {1999, 999500 * time.Microsecond}} {
		if got := p.Due(tt.hit); got != tt.want {
			t.Errorf("Due(%d) = %v, want %v", tt.hit, got, tt.want)
		}
	}
}

func TestConstantPacerValidate(t *testing.T) {
	for _, r := range []float64{0, -5, math.NaN(), math.Inf(-1)} {
		if err := (ConstantPacer{Rate: r}).Validate(); !errors.Is(err, ErrBadRate) {
			t.Errorf("Validate(rate %v) = %v, want ErrBadRate", r, err)
		}
	}
	if err := (ConstantPacer{Rate: 0.01}).Validate(); err != nil {
		t.Errorf("Validate(0.01) = %v, want nil", err)
	}
}
