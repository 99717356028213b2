package chaos_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/chaos"
)

func TestNemesisReplaysFromItsSeed(t *testing.T) {
	n := chaos.Nemesis{Seed: 7, Faults: 3, Span: time.Minute, MinHold: time.Second, MaxHold: 5 * time.Second, MinGap: 2 * time.Second, MaxGap: 10 * time.Second}
	a, err := n.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := n.Schedule()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two schedules")
	}
	n.Seed = 8
	if c, _ := n.Schedule(); reflect.DeepEqual(a.Intervals, c.Intervals) {
		t.Fatal("another seed gave the same schedule")
	}
	if len(a.Intervals) < 3 {
		t.Fatalf("only %d faults in a minute of 1-5 s holds and 2-10 s gaps", len(a.Intervals))
	}
	prevEnd, seen := time.Duration(0), map[int]bool{}
	for _, in := range a.Intervals {
		hold, gap := in.End-in.Start, in.Start-prevEnd
		if hold < n.MinHold || hold > n.MaxHold || gap < n.MinGap || gap > n.MaxGap || in.End > n.Span {
			t.Errorf("interval %+v: hold %v, gap %v out of bounds", in, hold, gap)
		}
		prevEnd, seen[in.Fault] = in.End, true
	}
	if len(seen) < 2 {
		t.Errorf("one kind of fault only: %v", seen)
	}
	if d := a.Describe([]chaos.Fault{named("pause kafka"), named("kill redis"), named("partition nats")}); !strings.Contains(d, "seed 7") {
		t.Errorf("describe: %s", d)
	}
}

func TestNemesisRefusesBadShapes(t *testing.T) {
	for _, n := range []chaos.Nemesis{
		{Faults: 0, Span: time.Minute, MinHold: time.Second, MaxHold: time.Second},
		{Faults: 1, Span: 0, MinHold: time.Second, MaxHold: time.Second},
		{Faults: 1, Span: time.Minute, MinHold: 2 * time.Second, MaxHold: time.Second},
		{Faults: 1, Span: time.Minute, MinHold: time.Second, MaxHold: time.Second, MinGap: -1},
		{Faults: 1, Span: 1000 * time.Hour, MinHold: time.Nanosecond, MaxHold: time.Nanosecond}, // billions of faults
	} {
		if _, err := n.Schedule(); !errors.Is(err, chaos.ErrBadNemesis) {
			t.Errorf("%+v: %v, want ErrBadNemesis", n, err)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in     string
		lo, hi time.Duration
		bad    bool
	}{
		{in: "1s-3s", lo: time.Second, hi: 3 * time.Second},
		{in: "2s", lo: 2 * time.Second, hi: 2 * time.Second},
		{in: " 500ms - 1s ", lo: 500 * time.Millisecond, hi: time.Second},
		{in: "3s-1s", bad: true}, {in: "x", bad: true}, {in: "1s-", bad: true}, {in: "", bad: true},
	} {
		lo, hi, err := chaos.ParseRange(tc.in)
		if tc.bad != (err != nil) || lo != tc.lo || hi != tc.hi {
			t.Errorf("%q: %v %v %v", tc.in, lo, hi, err)
		}
	}
}

// FuzzParseRange: no text makes the parser panic, and what it accepts is
// an ordered range a nemesis can use.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"1s-3s", "2s", "-1s", "1h-", "9999999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := chaos.ParseRange(s)
		if err == nil && (lo < 0 || hi < lo) {
			t.Fatalf("%q gave %v-%v", s, lo, hi)
		}
	})
}
