package reports

import (
	"math"
	"strings"
	"testing"
	"time"
)

func runWith(rate float64, p99 time.Duration, series []Sample) *Run {
	return &Run{Name: "r", Thresholds: []Threshold{AtLeast("achieved rate", rate, 0, "msg/s")},
		Latencies: []Latency{{Name: "send (intended → broker ack)", Count: 10, P99: time.Millisecond},
			{Name: "end-to-end", Count: 10, P50: p99 / 2, P99: p99}, {Name: "schedule lag", Count: 10}},
		Series: series}
}

func steady(n int, done uint64, p99 time.Duration, jitter time.Duration) []Sample {
	var s []Sample
	for i := range n {
		j := jitter
		if i%2 == 0 {
			j = -jitter
		}
		s = append(s, Sample{At: time.Duration(i+1) * time.Second, Done: done, E2EP99: p99 + j})
	}
	return s
}

// TestCompareLimitsAndNoise: a slower p99 beyond its limit regresses; the
// same change inside the runs' own spread is reported as such and does not
// fail the gate; a throughput drop beyond its limit regresses.
func TestCompareLimitsAndNoise(t *testing.T) {
	lim, err := ParseLimits("e2e.p99=+10%,throughput=-5%")
	if err != nil {
		t.Fatal(err)
	}
	base := runWith(100, 10*time.Millisecond, steady(10, 100, 10*time.Millisecond, 100*time.Microsecond))
	for _, c := range []struct {
		name   string
		next   *Run
		ok     bool
		metric string
	}{
		{"same", runWith(100, 10*time.Millisecond, steady(10, 100, 10*time.Millisecond, 100*time.Microsecond)), true, ""},
		{"slower", runWith(100, 20*time.Millisecond, steady(10, 100, 20*time.Millisecond, 100*time.Microsecond)), false, MetricE2EP99},
		{"slower within noise", runWith(100, 12*time.Millisecond, steady(10, 100, 12*time.Millisecond, 8*time.Millisecond)), true, ""},
		{"fewer", runWith(80, 10*time.Millisecond, nil), false, MetricThroughput},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmp, err := Compare(base, c.next, lim)
			if err != nil {
				t.Fatal(err)
			}
			if cmp.OK() != c.ok {
				t.Fatalf("OK=%v: %+v", cmp.OK(), cmp.Deltas)
			}
			for _, d := range cmp.Deltas {
				if d.Regressed != (d.Metric == c.metric) {
					t.Errorf("%s regressed=%v", d.Metric, d.Regressed)
				}
			}
			var b strings.Builder
			if err := WriteComparison(&b, cmp, false); err != nil {
				t.Fatal(err)
			}
			if c.name == "slower within noise" && !strings.Contains(b.String(), "within the runs' own noise") {
				t.Errorf("the table does not say the change is within the noise:\n%s", b.String())
			}
		})
	}
	if _, err := ParseLimits("e2e.p99=-10%"); err == nil {
		t.Error("a latency limit downwards was accepted")
	}
	if _, err := ParseLimits("lag=+1%"); err == nil {
		t.Error("an unknown metric was accepted")
	}
	if n := noise(base, base, MetricE2EP99, 10); math.IsNaN(n) || n <= 0 {
		t.Errorf("noise %v from a jittery series", n)
	}
}

// FuzzParseLimits: no limit text panics the parser.
func FuzzParseLimits(f *testing.F) {
	f.Add("e2e.p99=+10%,throughput=-5%")
	f.Fuzz(func(t *testing.T, s string) {
		lim, err := ParseLimits(s)
		if err == nil && len(lim) == 0 {
			t.Fatal("no limits and no error")
		}
	})
}
