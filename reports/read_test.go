package reports

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/check"
)

func sampleRun() *Run {
	return &Run{
		Name: "shop", Command: "edload run", StartedAt: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC),
		Duration: 3 * time.Second, Seed: 7,
		Config:    []KV{{"broker", "membus"}},
		Counts:    []Count{{"commands sent", 10}},
		Latencies: []Latency{{Name: "send", Count: 10, Min: 1, Mean: 2, P50: 2, P90: 3, P99: 4, P999: 5, Max: 6}},
		Invariants: []check.Result{{Invariant: check.InvNoLoss, Valid: false, Checked: 10, Found: 1,
			Anomalies: []check.Anomaly{{Invariant: check.InvNoLoss, Summary: "lost m1", At: time.Second}}}},
		Thresholds: []Threshold{AtMost("send errors", 0, 0, ""), AtLeast("rate", math.NaN(), 5, "msg/s")},
	}
}

func TestReadJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := sampleRun()
	if err := WriteJSON(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadJSON(&buf, "report.json")
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(out.Thresholds[1].Actual) {
		t.Fatalf("a null actual should read as NaN, got %v", out.Thresholds[1].Actual)
	}
	out.Thresholds[1].Actual, in.Thresholds[1].Actual = 0, 0
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	if out.OK() {
		t.Fatal("a report with a broken invariant read back as OK")
	}
}

func TestReadJSONBadInput(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"syntax", "{\n  \"schema\": \"edkit.report/v1\",\n  \"name\": ,\n}", "report.json:3:11"},
		{"type", "{\"schema\": \"edkit.report/v1\", \"seed\": \"x\"}", "report.json:1:"},
		{"unknown field", "{\"schema\": \"edkit.report/v1\", \"nope\": 1}", "unknown field"},
		{"schema", "{\"schema\": \"other/v9\"}", "schema \"other/v9\""},
		{"cmp", "{\"schema\": \"edkit.report/v1\", \"thresholds\": [{\"name\": \"x\", \"cmp\": \"==\"}]}", "comparison \"==\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadJSON(strings.NewReader(c.in), "report.json")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func FuzzReadJSON(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sampleRun()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema":"edkit.report/v1","thresholds":[{"cmp":"<=","limit":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ReadJSON(bytes.NewReader(b), "report.json")
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteJSON(&out, r); err != nil {
			t.Fatalf("a report ReadJSON accepted does not write: %v", err)
		}
	})
}
