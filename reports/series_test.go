package reports

import (
	"testing"
	"time"
)

// TestAddSampleBounded: an hour of samples fits in MaxSamples, every
// operation still counted, the worst latency kept, the last lag standing.
func TestAddSampleBounded(t *testing.T) {
	var series []Sample
	for i := range 3600 {
		p99 := time.Millisecond
		if i == 1234 {
			p99 = time.Second
		}
		series = AddSample(series, Sample{At: time.Duration(i+1) * time.Second, Sent: 10, Done: 9, E2EP99: p99, InFlight: i})
	}
	if len(series) > MaxSamples {
		t.Fatalf("%d samples, want at most %d", len(series), MaxSamples)
	}
	var sent, done uint64
	worst := time.Duration(0)
	for i, s := range series {
		sent, done, worst = sent+s.Sent, done+s.Done, max(worst, s.E2EP99)
		if i > 0 && s.At <= series[i-1].At {
			t.Fatalf("samples out of order at %d: %v after %v", i, s.At, series[i-1].At)
		}
	}
	if sent != 36000 || done != 32400 || worst != time.Second {
		t.Errorf("sent %d done %d worst %v after merging", sent, done, worst)
	}
	if last := series[len(series)-1]; last.At != time.Hour || last.InFlight != 3599 {
		t.Errorf("last sample %+v", last)
	}
}
