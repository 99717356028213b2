package loadgen

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestExpected(t *testing.T) {
	ramp, err := ParseRate("ramp:100-300/10s")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := ParseRate("steps:100/5s,300/5s")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		p    Pacer
		d    time.Duration
		want uint64
	}{
		{"constant", ConstantPacer{Rate: 100}, 10 * time.Second, 1000},
		{"ramp", ramp, 10 * time.Second, 2000},   // the mean of 100 and 300, for 10 s
		{"steps", steps, 10 * time.Second, 2000}, // 500 + 1500
		{"zero", ConstantPacer{Rate: 100}, 0, 0},
	}
	for _, c := range cases {
		got := Expected(c.p, c.d)
		if diff := int64(got) - int64(c.want); diff < -1 || diff > 1 {
			t.Errorf("%s: Expected = %d, want %d ± 1", c.name, got, c.want)
		}
	}
}

func TestCountStopsTheSchedule(t *testing.T) {
	var n atomicCounter
	res, err := Run(t.Context(), Config{Rate: 1000, Duration: 10 * time.Second, Workers: 2, Keys: 3, Count: 50},
		DriverFunc(func(context.Context, Request) error { n.add(); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 50 || n.get() != 50 {
		t.Fatalf("sent %d (driver saw %d), want 50", res.Sent, n.get())
	}
	if res.Duration > 5*time.Second {
		t.Fatalf("a 50-request run took %v: Count did not stop the schedule", res.Duration)
	}
	if err := (Config{Rate: 1, Duration: time.Second, Workers: 1, Keys: 1, Count: MaxCount + 1}).Validate(); !errors.Is(err, ErrBadCount) {
		t.Fatalf("Validate = %v, want ErrBadCount", err)
	}
}

type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) add()       { c.v.Add(1) }
func (c *atomicCounter) get() int64 { return c.v.Load() }
