package loadgen

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseKeys(t *testing.T) {
	tests := []struct {
		in      string
		want    KeySpec
		wantErr []error  // sentinels the error must wrap
		names   []string // what the error must name
	}{
		{in: "uniform", want: KeySpec{Dist: KeysUniform}},
		{in: "  zipf:1.2 ", want: KeySpec{Dist: KeysZipf, Skew: 1.2}},
		{in: "zipf:1e0001", want: KeySpec{Dist: KeysZipf, Skew: 10}},
		{in: "hot:0.9/10", want: KeySpec{Dist: KeysHot, HotFraction: 0.9, HotKeys: 10}},
		{in: "hot:0/1", want: KeySpec{Dist: KeysHot, HotKeys: 1}},
		{in: "hot:1/10000000", want: KeySpec{Dist: KeysHot, HotFraction: 1, HotKeys: MaxKeys}},
		{in: "seq:4", want: KeySpec{Dist: KeysSeq, SeqLen: 4}},

		{in: "", wantErr: []error{ErrBadSpec}, names: []string{"empty key distribution", "zipf:SKEW"}},
		{in: "pareto:2", wantErr: []error{ErrBadSpec}, names: []string{`unknown key distribution "pareto"`}},
		{in: "Zipf:1.2", wantErr: []error{ErrBadSpec}, names: []string{`"Zipf"`}},
		{in: "uniform:3", wantErr: []error{ErrBadSpec}, names: []string{"uniform takes no parameter"}},
		{in: "zipf", wantErr: []error{ErrBadSpec}, names: []string{"zipf skew missing"}},
		{in: "zipf:", wantErr: []error{ErrBadSpec}, names: []string{"zipf skew missing"}},
		{in: "zipf:abc", wantErr: []error{ErrBadSpec}, names: []string{`zipf skew "abc" is not a number`}},
		{in: "zipf:1", wantErr: []error{ErrBadKeyDist}, names: []string{"zipf skew 1 (want finite and > 1)"}},
		{in: "zipf:0.5", wantErr: []error{ErrBadKeyDist}, names: []string{"zipf skew 0.5"}},
		{in: "zipf:-2", wantErr: []error{ErrBadKeyDist}, names: []string{"zipf skew -2"}},
		{in: "zipf:NaN", wantErr: []error{ErrBadKeyDist}, names: []string{"zipf skew NaN"}},
		{in: "zipf:inf", wantErr: []error{ErrBadKeyDist}, names: []string{"zipf skew +Inf"}},
		{in: "zipf:1e400", wantErr: []error{ErrBadKeyDist}, names: []string{"zipf skew +Inf"}},
		{in: "hot", wantErr: []error{ErrBadSpec}, names: []string{"FRACTION/KEYS"}},
		{in: "hot:0.9", wantErr: []error{ErrBadSpec}, names: []string{`hot "0.9" wants FRACTION/KEYS`}},
		{in: "hot:/10", wantErr: []error{ErrBadSpec}, names: []string{"hot fraction missing"}},
		{in: "hot:0.9/", wantErr: []error{ErrBadSpec}, names: []string{"hot keys missing"}},
		{in: "hot:abc/x", wantErr: []error{ErrBadSpec}, names: []string{`hot fraction "abc"`, `hot keys "x" is not a whole number`}},
		{in: "hot:1.5/10", wantErr: []error{ErrBadKeyDist}, names: []string{"hot fraction 1.5 (want 0 to 1)"}},
		{in: "hot:-0.1/10", wantErr: []error{ErrBadKeyDist}, names: []string{"hot fraction -0.1"}},
		{in: "hot:NaN/10", wantErr: []error{ErrBadKeyDist}, names: []string{"hot fraction NaN"}},
		{in: "hot:0.9/0", wantErr: []error{ErrBadKeyDist}, names: []string{"hot keys 0 (want 1 to 10000000)"}},
		{in: "hot:0.9/-3", wantErr: []error{ErrBadKeyDist}, names: []string{"hot keys -3"}},
		{in: "hot:0.9/10000001", wantErr: []error{ErrBadKeyDist}, names: []string{"hot keys 10000001"}},
		{in: "hot:0.9/99999999999999999999999", wantErr: []error{ErrBadKeyDist}, names: []string{"hot keys 99999999999999999999999 is out of range"}},
		{in: "hot:2/0", wantErr: []error{ErrBadKeyDist}, names: []string{"hot fraction 2", "hot keys 0"}},
		{in: "seq", wantErr: []error{ErrBadSpec}, names: []string{"sequence length missing"}},
		{in: "seq:0", wantErr: []error{ErrBadKeyDist}, names: []string{"sequence length 0 (want at least 1)"}},
		{in: "seq:-1", wantErr: []error{ErrBadKeyDist}, names: []string{"sequence length -1"}},
		{in: "seq:2.5", wantErr: []error{ErrBadSpec}, names: []string{`sequence length "2.5" is not a whole number`}},
		{in: strings.Repeat("a", MaxSpecLen+1), wantErr: []error{ErrBadSpec}, names: []string{"4097 bytes long (max 4096)"}},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 40)], func(t *testing.T) {
			got, err := ParseKeys(tt.in)
			if len(tt.wantErr) == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("ParseKeys(%q) = (%+v, %v), want (%+v, nil)", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseKeys(%q) = %+v, want an error", tt.in, got)
			}
			checkErr(t, err, tt.wantErr, tt.names)
		})
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    string // the pacer's String(), for a valid input
		wantErr []error
		names   []string
	}{
		{in: "100", want: "constant{rate=100/s}"},
		{in: " 0.5 ", want: "constant{rate=0.5/s}"},
		{in: "1e7", want: "constant{rate=1e+07/s}"},
		{in: "ramp:100-1000/30s", want: "ramp{100/s→1000/s over 30s}"},
		{in: "ramp:1000-100/1m30s", want: "ramp{1000/s→100/s over 1m30s}"},
		{in: "ramp:1e-3-2/1s", want: "ramp{0.001/s→2/s over 1s}"},
		{in: "ramp: 5 - 10 / 1s ", want: "ramp{5/s→10/s over 1s}"},
		{in: "steps:100/10s,200/10s,400/10s", want: "steps{100/s for 10s, 200/s for 10s, 400/s for 10s}"},
		{in: "steps:7/1ms", want: "steps{7/s for 1ms}"},

		{in: "", wantErr: []error{ErrBadSpec}, names: []string{"empty rate", "ramp:FROM-TO/DURATION"}},
		{in: "abc", wantErr: []error{ErrBadSpec}, names: []string{`rate "abc" is not a number`}},
		{in: "100/s", wantErr: []error{ErrBadSpec}, names: []string{`rate "100/s"`}},
		{in: "0", wantErr: []error{ErrBadRate}, names: []string{"rate 0"}},
		{in: "-5", wantErr: []error{ErrBadRate}, names: []string{"rate -5"}},
		{in: "NaN", wantErr: []error{ErrBadRate}, names: []string{"rate NaN"}},
		{in: "+Inf", wantErr: []error{ErrBadRate}, names: []string{"rate +Inf"}},
		{in: "1e400", wantErr: []error{ErrBadRate}, names: []string{"rate +Inf"}},
		{in: "1.5e7", wantErr: []error{ErrBadRate}, names: []string{"rate 1.5e+07 above the maximum 10000000/s"}},
		{in: "sine:100", wantErr: []error{ErrBadSpec}, names: []string{`unknown rate schedule "sine"`}},
		{in: "ramp:", wantErr: []error{ErrBadSpec}, names: []string{"wants FROM-TO/DURATION"}},
		{in: "ramp:100-1000", wantErr: []error{ErrBadSpec}, names: []string{`ramp "100-1000" wants FROM-TO/DURATION`}},
		{in: "ramp:100/30s", wantErr: []error{ErrBadSpec}, names: []string{`ramp rates "100" want FROM-TO`}},
		{in: "ramp:-/30s", wantErr: []error{ErrBadSpec}, names: []string{`ramp rates "-"`}},
		{in: "ramp:100-/30s", wantErr: []error{ErrBadSpec}, names: []string{"ramp end rate missing"}},
		{in: "ramp:100-1000/", wantErr: []error{ErrBadSpec}, names: []string{"ramp duration missing"}},
		{in: "ramp:100-1000/30", wantErr: []error{ErrBadSpec}, names: []string{`ramp duration "30" is not a duration`}},
		{in: "ramp:x-y/z", wantErr: []error{ErrBadSpec}, names: []string{`ramp start rate "x"`, `ramp end rate "y"`, `ramp duration "z"`}},
		{in: "ramp:100-1000/0s", wantErr: []error{ErrBadDuration}, names: []string{"ramp duration 0s"}},
		{in: "ramp:100-1000/-1s", wantErr: []error{ErrBadDuration}, names: []string{"ramp duration -1s"}},
		{in: "ramp:-5-100/1s", wantErr: []error{ErrBadRate}, names: []string{"ramp start rate -5"}},
		{in: "ramp:0-100/1s", wantErr: []error{ErrBadRate}, names: []string{"ramp start rate 0"}},
		{in: "ramp:NaN-100/1s", wantErr: []error{ErrBadRate}, names: []string{"ramp start rate NaN"}},
		{in: "ramp:100-2e7/1s", wantErr: []error{ErrBadRate}, names: []string{"ramp end rate 2e+07 above the maximum"}},
		{in: "steps:", wantErr: []error{ErrBadSpec}, names: []string{"steps missing"}},
		{in: "steps:100", wantErr: []error{ErrBadSpec}, names: []string{`step 1 "100" wants RATE/DURATION`}},
		{in: "steps:100/10s,", wantErr: []error{ErrBadSpec}, names: []string{`step 2 "" wants RATE/DURATION`}},
		{in: "steps:100/10s,abc/1s,5/x", wantErr: []error{ErrBadSpec}, names: []string{`step 2 rate "abc"`, `step 3 duration "x"`}},
		{in: "steps:100/10s,0/1s", wantErr: []error{ErrBadRate}, names: []string{"step 2: rate 0"}},
		{in: "steps:100/0s", wantErr: []error{ErrBadDuration}, names: []string{"step 1: duration 0s"}},
		{in: "steps:1e8/1s", wantErr: []error{ErrBadRate}, names: []string{"step 1: rate 1e+08 above the maximum"}},
		{in: "steps:1/2000000h,1/2000000h", wantErr: []error{ErrBadSchedule}, names: []string{"longer than"}},
		{in: "steps:1/" + strings.Repeat("9", 30) + "h", wantErr: []error{ErrBadSpec}, names: []string{"step 1 duration"}},
		{in: "steps:" + strings.Repeat("1/1s,", 1000), wantErr: []error{ErrBadSpec}, names: []string{"bytes long"}},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 40)], func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("ParseRate(%q) = %v", tt.in, err)
				}
				if s := got.(interface{ String() string }).String(); s != tt.want {
					t.Fatalf("ParseRate(%q) = %s, want %s", tt.in, s, tt.want)
				}
				if _, ok := got.(Scheduler); !ok {
					t.Fatalf("ParseRate(%q) = %T, not a Scheduler", tt.in, got)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseRate(%q) = %v, want an error", tt.in, got)
			}
			checkErr(t, err, tt.wantErr, tt.names)
		})
	}
}

func checkErr(t *testing.T, err error, want []error, names []string) {
	t.Helper()
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("error %q does not wrap %v", err, w)
		}
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %q", err, n)
		}
	}
}

func TestKeySpecStringRoundTrips(t *testing.T) {
	for _, s := range []KeySpec{
		{}, {Dist: KeysUniform}, {Dist: KeysZipf, Skew: 1.2}, {Dist: KeysZipf, Skew: math.Nextafter(1, 2)},
		{Dist: KeysHot, HotFraction: 0.9, HotKeys: 10}, {Dist: KeysHot, HotFraction: 1.0 / 3, HotKeys: 7},
		{Dist: KeysSeq, SeqLen: 4},
	} {
		got, err := ParseKeys(s.String())
		if s.Dist == "" {
			s.Dist = KeysUniform
		}
		if err != nil || got != s {
			t.Errorf("ParseKeys(%q) = (%+v, %v), want %+v", s.String(), got, err, s)
		}
	}
}

// sentinels are the errors a parse error must wrap at least one of.
var sentinels = []error{ErrBadSpec, ErrBadKeyDist, ErrBadKeys, ErrBadRate, ErrBadDuration, ErrBadSchedule}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzParseKeys checks that no input panics; that every error wraps a
// sentinel; that a spec that parses is valid, spells itself back, and
// builds a distribution whose keys stay in range.
func FuzzParseKeys(f *testing.F) {
	for _, s := range []string{"uniform", "zipf:1.2", "zipf:1.0000000001", "zipf:1e308", "hot:0.9/10", "hot:1/1",
		"seq:4", "seq:9223372036854775807", "zipf:NaN", "hot:-0/0", "ramp:1-2/3s", "", ":", "hot:/", "zipf:0x1p1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		spec, err := ParseKeys(in)
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("ParseKeys(%q) = %v, wraps no sentinel", in, err)
			}
			return
		}
		if err := spec.Validate(); err != nil {
			t.Fatalf("ParseKeys(%q) = %+v, which does not validate: %v", in, spec, err)
		}
		if back, err := ParseKeys(spec.String()); err != nil || back != spec {
			t.Fatalf("ParseKeys(%q) = %+v; its String %q parses as (%+v, %v)", in, spec, spec.String(), back, err)
		}
		keys := max(spec.HotKeys, 1000)
		d, err := NewKeyDist(spec, keys, int64(len(in)))
		if err != nil {
			t.Fatalf("NewKeyDist(%+v, %d) = %v", spec, keys, err)
		}
		for _, n := range []uint64{0, 1, 2, 1e6, math.MaxUint64} {
			if p := d.Key(n); p.Key < 0 || p.Key >= keys || p.Op < 0 || (spec.SeqLen > 0 && p.Op >= spec.SeqLen) {
				t.Fatalf("%+v.Key(%d) = %+v, out of range", spec, n, p)
			}
		}
	})
}

// FuzzParseRate checks that no input panics; that every error wraps a
// sentinel; that a pacer that parses is a Scheduler whose Due never goes
// back and whose Pace never stops or waits beyond its Due.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"100", "1e7", "0.001", "ramp:100-1000/30s", "ramp:1e-3-1e7/1ns", "ramp:-1-1/1s",
		"steps:100/10s,200/10s,400/10s", "steps:1e-300/1ns,1e7/2562047h", "steps:,", "NaN", "ramp:--/", "steps:1/1s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParseRate(in)
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("ParseRate(%q) = %v, wraps no sentinel", in, err)
			}
			return
		}
		s, ok := p.(Scheduler)
		if !ok {
			t.Fatalf("ParseRate(%q) = %T, not a Scheduler", in, p)
		}
		var prev time.Duration
		for _, n := range []uint64{0, 1, 2, 3, 100, 1e4, 1e6, 1e9, 1e12, 1e15, 1e18, math.MaxUint64} {
			due := s.Due(n)
			if due < prev {
				t.Fatalf("ParseRate(%q): Due(%d) = %v, before an earlier request's %v", in, n, due, prev)
			}
			prev = due
			wait, stop := p.Pace(0, n)
			if stop || wait != due {
				t.Fatalf("ParseRate(%q): Pace(0, %d) = (%v, %v), want (%v, false)", in, n, wait, stop, due)
			}
		}
	})
}
