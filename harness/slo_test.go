package harness

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/loadgen"
)

func TestParseSLO(t *testing.T) {
	s, err := ParseSLO("e2e.p99<50ms, send.max<=1s")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s[0] != (Objective{Latency: "e2e", Stat: "p99", Limit: 50 * time.Millisecond}) ||
		s[1] != (Objective{Latency: "send", Stat: "max", OrEqual: true, Limit: time.Second}) {
		t.Fatalf("parsed %+v", s)
	}
	if got := s.String(); got != "e2e.p99<50ms,send.max<=1s" {
		t.Fatalf("String = %q", got)
	}
	bad := []struct{ in, want string }{
		{"", "empty objective"},
		{"e2e.p99", "want LATENCY.STAT<LIMIT"},
		{"p99<5ms", "wants LATENCY.STAT"},
		{"e3e.p99<5ms", `latency "e3e"`},
		{"e2e.p98<5ms", `statistic "p98"`},
		{"e2e.p99<fast", `limit "fast"`},
		{"e2e.p99<-5ms", `limit "-5ms"`},
		{"e2e.p99<5ms,", "empty objective"},
		{strings.Repeat("x", 2000), "bytes long"},
	}
	for _, b := range bad {
		if _, err := ParseSLO(b.in); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseSLO(%.20q) = %v, want an error containing %q", b.in, err, b.want)
		}
	}
}

func FuzzParseSLO(f *testing.F) {
	for _, s := range []string{"e2e.p99<50ms", "send.max<=1s,settled.mean<2m", "a.b<", "<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		slo, err := ParseSLO(s)
		if err != nil {
			return
		}
		again, err := ParseSLO(slo.String())
		if err != nil || again.String() != slo.String() {
			t.Fatalf("%q parsed to %q, which reads back as %v, %v", s, slo.String(), again, err)
		}
	})
}

// TestSLOThresholds: an objective met passes, one missed fails, a strict
// bound fails at equality, and a latency not measured fails.
func TestSLOThresholds(t *testing.T) {
	slo, err := ParseSLO("e2e.p99<50ms,e2e.p99<=40ms,send.p50<40ms,settled.max<1s")
	if err != nil {
		t.Fatal(err)
	}
	lat := map[string]loadgen.Summary{
		"e2e":  {Count: 10, P99: 40 * time.Millisecond},
		"send": {Count: 10, P50: 40 * time.Millisecond},
	}
	got := slo.thresholds(lat)
	want := []bool{true, true, false, false}
	for i, th := range got {
		if th.OK != want[i] {
			t.Errorf("%s: OK=%v, want %v", th, th.OK, want[i])
		}
	}
	if !math.IsNaN(got[3].Actual) || !strings.Contains(got[3].Name, "not measured") {
		t.Errorf("unmeasured latency threshold %+v", got[3])
	}
}
