package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/history"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from current output")

func passingRun() *Run {
	return &Run{
		Name:      "membus-smoke",
		Command:   "edload run --broker membus --rate 200 --duration 20s",
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration:  20*time.Second + 12*time.Millisecond,
		Seed:      42,
		Config:    []KV{{"broker", "membus"}, {"rate", "200"}, {"keys", "16"}},
		Counts:    []Count{{"sent", 4000}, {"acked", 4000}, {"delivered", 4000}},
		Latencies: []Latency{{Name: "send", Count: 4000, Min: 12 * time.Microsecond, Mean: 180 * time.Microsecond,
			P50: 150 * time.Microsecond, P90: 300 * time.Microsecond, P99: 1200 * time.Microsecond,
			P999: 3100 * time.Microsecond, Max: 4500 * time.Microsecond}},
		Invariants: []check.Result{
			{Invariant: check.InvNoLoss, Valid: true, Checked: 4000},
			{Invariant: check.InvNoDupDelivery, Valid: true, Checked: 4000, Permitted: true,
				Note: "at-least-once delivery permits duplicates",
				Anomalies: []check.Anomaly{{Invariant: check.InvNoDupDelivery, Summary: "msg m-7 delivered twice to group g",
					At: 3 * time.Millisecond, Witness: []history.Op{
						{Index: 10, Time: 2 * time.Millisecond, Process: "c1", Type: history.OK, F: history.Deliver, Group: "g", Key: "k-1", MsgID: "m-7", Seq: 3, Attempt: 1},
						{Index: 14, Time: 3 * time.Millisecond, Process: "c2", Type: history.OK, F: history.Deliver, Group: "g", Key: "k-1", MsgID: "m-7", Seq: 3, Attempt: 2},
					}}}},
		},
		Thresholds: []Threshold{AtMost("p99 send latency", 1.2, 5, "ms"), AtLeast("throughput", 199.4, 190, "msg/s")},
	}
}

func failingRun() *Run {
	r := passingRun()
	r.Name = "kafka-order"
	r.Command = "edload run --broker kafka://admin:hunter2@127.0.0.1:9092 --rate 200"
	r.Config = []KV{{"broker", "kafka://admin:hunter2@127.0.0.1:9092"}, {"amqp", "amqp://guest:guest@localhost:5672/vhost"},
		{"sasl_password", "hunter2"}, {"dsn", "host=127.0.0.1 user=app password=pg-secret dbname=shop"}}
	r.Invariants = append(r.Invariants, check.Result{
		Invariant: check.InvConsumerOrder, Valid: false, Checked: 4000,
		Anomalies: []check.Anomaly{
			{Invariant: check.InvConsumerOrder, Summary: "key k-3: seq 5 delivered after seq 6", At: 9 * time.Millisecond,
				Witness: []history.Op{
					{Index: 30, Time: 8 * time.Millisecond, Process: "c1", Type: history.OK, F: history.Deliver, Topic: "orders", Group: "g", Key: "k-3", MsgID: "m-41", Seq: 6, Attempt: 1},
					{Index: 33, Time: 9 * time.Millisecond, Process: "c1", Type: history.OK, F: history.Deliver, Topic: "orders", Group: "g", Key: "k-3", MsgID: "m-40", Seq: 5, Attempt: 1},
				}},
			{Invariant: check.InvConsumerOrder, Summary: "key k-9: seq 2 skipped", At: 15 * time.Millisecond,
				Witness: []history.Op{
					{Index: 50, Time: 15 * time.Millisecond, Process: "c2", Type: history.OK, F: history.Deliver, Topic: "orders", Group: "g", Key: "k-9", MsgID: "m-77", Seq: 3, Attempt: 1},
				}},
		},
	})
	r.Thresholds = append(r.Thresholds, AtMost("p99.9 send latency", 31.5, 10, "ms"))
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (run go test -update after checking)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	runs := []struct {
		name string
		run  *Run
	}{{"pass", passingRun()}, {"fail", failingRun()}}
	writers := []struct {
		ext   string
		write func(*bytes.Buffer, *Run) error
	}{
		{"json", func(b *bytes.Buffer, r *Run) error { return WriteJSON(b, r) }},
		{"junit.xml", func(b *bytes.Buffer, r *Run) error { return WriteJUnit(b, r) }},
		{"summary.txt", func(b *bytes.Buffer, r *Run) error { return WriteSummary(b, r) }},
		{"md", func(b *bytes.Buffer, r *Run) error { return WriteMarkdown(b, r) }},
	}
	for _, rr := range runs {
		for _, w := range writers {
			t.Run(rr.name+"."+w.ext, func(t *testing.T) {
				var b bytes.Buffer
				if err := w.write(&b, rr.run); err != nil {
					t.Fatal(err)
				}
				for _, secret := range []string{"hunter2", "pg-secret", "guest:guest"} {
					if strings.Contains(b.String(), secret) {
						t.Errorf("output leaks %q", secret)
					}
				}
				golden(t, rr.name+"."+w.ext, b.Bytes())
			})
		}
	}
}

func TestWritersDoNotModifyRun(t *testing.T) {
	r := failingRun()
	if err := WriteJSON(&bytes.Buffer{}, r); err != nil {
		t.Fatal(err)
	}
	if r.Config[0].Value != "kafka://admin:hunter2@127.0.0.1:9092" || !strings.Contains(r.Command, "hunter2") {
		t.Fatalf("WriteJSON redacted the caller's run in place: %+v", r.Config[0])
	}
}

func TestRunOK(t *testing.T) {
	tests := []struct {
		name string
		run  *Run
		want bool
	}{
		{"empty run", &Run{}, true},
		{"passing", passingRun(), true},
		{"permitted anomalies still pass", &Run{Invariants: []check.Result{{Valid: true, Permitted: true, Anomalies: make([]check.Anomaly, 1)}}}, true},
		{"broken invariant", &Run{Invariants: []check.Result{{Valid: true}, {Valid: false}}}, false},
		{"missed threshold", &Run{Thresholds: []Threshold{AtMost("p99", 6, 5, "ms")}}, false},
		{"failing", failingRun(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.run.OK(); got != tt.want {
				t.Fatalf("OK() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestThresholds(t *testing.T) {
	tests := []struct {
		name string
		th   Threshold
		ok   bool
		str  string
	}{
		{"at most under", AtMost("p99", 4, 5, "ms"), true, "p99: 4 ms <= 5 ms"},
		{"at most equal", AtMost("p99", 5, 5, "ms"), true, "p99: 5 ms <= 5 ms"},
		{"at most over", AtMost("p99", 5.5, 5, "ms"), false, "p99: 5.5 ms <= 5 ms"},
		{"at least over", AtLeast("rate", 2001, 2000, "msg/s"), true, "rate: 2001 msg/s >= 2000 msg/s"},
		{"at least under", AtLeast("rate", 1999.5, 2000, "msg/s"), false, "rate: 1999.5 msg/s >= 2000 msg/s"},
		{"no unit", AtMost("errors", 0, 0, ""), true, "errors: 0 <= 0"},
		{"NaN fails at most", AtMost("p99", math.NaN(), 5, "ms"), false, "p99: NaN ms <= 5 ms"},
		{"NaN fails at least", AtLeast("rate", math.NaN(), 1, "msg/s"), false, "rate: NaN msg/s >= 1 msg/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.th.OK != tt.ok || tt.th.String() != tt.str {
				t.Fatalf("got OK=%v %q, want OK=%v %q", tt.th.OK, tt.th.String(), tt.ok, tt.str)
			}
		})
	}
}

func TestJSONWritesNaNAsNull(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, &Run{Thresholds: []Threshold{AtMost("p99", math.NaN(), 5, "ms")}}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Thresholds []map[string]any `json:"thresholds"`
		Config     []any            `json:"config"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Thresholds[0]["actual"] != nil || got.Thresholds[0]["limit"] != 5.0 || got.Config == nil {
		t.Fatalf("thresholds %v config %v, want actual null, limit 5 and config []", got.Thresholds, got.Config)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"amqp://guest:guest@localhost:5672/", "amqp://guest:***@localhost:5672/"},
		{"postgres://app:p%40ss@db:5432/shop?sslmode=disable", "postgres://app:***@db:5432/shop?sslmode=disable"},
		{"redis://:onlypass@127.0.0.1:6379", "redis://:***@127.0.0.1:6379"},
		{"admin:hunter2@broker:9092", "admin:***@broker:9092"},
		{"a:1@h1,b:2@h2", "a:***@h1,b:***@h2"},
		{"--url nats://u:p@n:4222 --rate 5", "--url nats://u:***@n:4222 --rate 5"},
		{"host=db user=app password=secret dbname=x", "host=db user=app password=*** dbname=x"},
		{"https://example.com/path?token=abc&x=1", "https://example.com/path?token=***&x=1"},
		{"kafka://127.0.0.1:9092", "kafka://127.0.0.1:9092"},
		{"user@example.com", "user@example.com"},
		// Passwords as people write them, unescaped.
		{"amqp://u:pa,ss@h:5672/", "amqp://u:***@h:5672/"},
		{"amqp://u:pa;ss@h:5672/", "amqp://u:***@h:5672/"},
		{"amqp://u:pa/ss@h:5672/vhost", "amqp://u:***@h:5672/vhost"},
		{"amqp://u:p@ss@h:5672/", "amqp://u:***@h:5672/"},
		{"redis://:a:b@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"},
		{"dial redis://u:s3cr,et@h:1: refused; then amqp://g:x;y@h2", "dial redis://u:***@h:1: refused; then amqp://g:***@h2"},
		{"amqp://a:1@h1,amqp://b:2@h2", "amqp://a:***@h1,amqp://b:***@h2"},
		{`url "nats://u:p w@h"`, `url "nats://u:p w@h"`}, // a quote ends the URL: no userinfo before it
		// NATS: a token URL, credentials, seeds.
		{"nats://s3cr3tt0ken@127.0.0.1:4222", "nats://***@127.0.0.1:4222"},
		{"kafka://alice@h:9092", "kafka://alice@h:9092"},
		{"auth_token=abc def", "auth_token=*** def"},
		{"-----BEGIN NATS USER JWT-----\neyJ0eXAi.x.y\n------END NATS USER JWT------", "-----BEGIN NATS USER JWT----- *** ------END NATS USER JWT------"},
		{"seed SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY ok", "seed S*** ok"},
		{"200", "200"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Fatalf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

const nasty = `<evil attr="x"> & ]]> "quoted" </testsuite>`

func nastyRun() *Run {
	return &Run{
		Name:    "n" + nasty,
		Command: "cmd " + nasty,
		Config:  []KV{{"k" + nasty, "v" + nasty}},
		Invariants: []check.Result{{Invariant: "inv" + nasty, Valid: false, Checked: 1, Note: nasty,
			Anomalies: []check.Anomaly{{Summary: "sum" + nasty, Witness: []history.Op{
				{Process: "p", Type: history.OK, F: history.Deliver, Key: "key" + nasty, Value: nasty}}}}}},
		Thresholds: []Threshold{AtMost("th"+nasty, 2, 1, "u"+nasty)},
	}
}

func TestJUnitEscapesUserData(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, nastyRun()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, raw := range []string{"<evil", "]]>", "</testsuite>\n</testsuite>", `"quoted"`} {
		if strings.Contains(out, raw) {
			t.Errorf("output contains unescaped %q:\n%s", raw, out)
		}
	}
	var s junitSuite
	if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatalf("output does not parse back: %v\n%s", err, out)
	}
	if s.Name != "edkit" || len(s.Cases) != 2 || s.Failures != 2 {
		t.Fatalf("parsed suite %+v, want edkit with 2 failing cases", s)
	}
	inv, th := s.Cases[0], s.Cases[1]
	if inv.Name != "inv"+nasty || inv.Classname != ClassInvariants || inv.Failure == nil ||
		inv.Failure.Message != "sum"+nasty || !strings.Contains(inv.Failure.Text, "key="+"key"+nasty) {
		t.Errorf("invariant case did not round-trip: %+v %+v", inv, inv.Failure)
	}
	if th.Name != "th"+nasty || th.Classname != ClassThresholds || th.Failure == nil {
		t.Errorf("threshold case did not round-trip: %+v", th)
	}
	var props = map[string]string{}
	for _, p := range s.Properties {
		props[p.Name] = p.Value
	}
	if props["run"] != "n"+nasty || props["config.k"+nasty] != "v"+nasty {
		t.Errorf("properties did not round-trip: %v", props)
	}
}

func TestJSONEscapesUserData(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, nastyRun()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<evil") || strings.Contains(b.String(), "]]>") {
		t.Errorf("JSON carries raw markup:\n%s", b.String())
	}
	var got struct {
		Name       string         `json:"name"`
		Invariants []check.Result `json:"invariants"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "n"+nasty || got.Invariants[0].Anomalies[0].Witness[0].Key != "key"+nasty {
		t.Fatalf("JSON did not round-trip: %+v", got)
	}
}

func TestSummaryFlattensUserData(t *testing.T) {
	r := nastyRun()
	r.Name = "evil\nFAKE LINE\x1b[2J"
	var b bytes.Buffer
	if err := WriteSummary(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\nFAKE LINE") || strings.Contains(b.String(), "\x1b") {
		t.Fatalf("summary lets user data forge lines or escape codes:\n%q", b.String())
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := WriteDir(dir, failingRun()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "junit.xml,report.json,report.md" {
		t.Fatalf("dir holds %v, want junit.xml, report.json and report.md only", names)
	}
	j, _ := os.ReadFile(filepath.Join(dir, JSONFile))
	var got struct {
		OK     bool   `json:"ok"`
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(j, &got); err != nil || got.OK || got.Schema != Schema {
		t.Fatalf("report.json = %+v, %v; want ok=false schema %s", got, err, Schema)
	}
	x, _ := os.ReadFile(filepath.Join(dir, JUnitFile))
	var s junitSuite
	if err := xml.Unmarshal(x, &s); err != nil || s.Failures != 2 {
		t.Fatalf("junit.xml failures=%d err=%v, want 2", s.Failures, err)
	}
}

func TestWritersRejectNilRun(t *testing.T) {
	for name, err := range map[string]error{
		"json":    WriteJSON(&bytes.Buffer{}, nil),
		"junit":   WriteJUnit(&bytes.Buffer{}, nil),
		"summary": WriteSummary(&bytes.Buffer{}, nil),
		"dir":     WriteDir(t.TempDir(), nil),
	} {
		if !errors.Is(err, ErrNilRun) {
			t.Errorf("%s(nil) = %v, want ErrNilRun", name, err)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWritersReportWriteErrors(t *testing.T) {
	for name, err := range map[string]error{
		"json":    WriteJSON(failingWriter{}, passingRun()),
		"junit":   WriteJUnit(failingWriter{}, passingRun()),
		"summary": WriteSummary(failingWriter{}, passingRun()),
	} {
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s = %v, want the write error", name, err)
		}
	}
}

// TestReportsRedactEverywhere: a secret in any string of a run — its name,
// an invariant's note, an anomaly and its witness, a threshold — never
// reaches report.json, junit.xml or the summary.
func TestReportsRedactEverywhere(t *testing.T) {
	const secret = "s3cr,et"
	url := "amqp://u:" + secret + "@h:5672/"
	r := &Run{
		Name:    "run on " + url,
		Command: "edload run --url " + url,
		Config:  []KV{{"broker", url}, {"api-token", secret}},
		Invariants: []check.Result{{Invariant: "inv " + url, Note: "note " + url, Anomalies: []check.Anomaly{{
			Summary: "lost on " + url, Witness: []history.Op{{Value: "v " + url, Error: "dial " + url}}}}}},
		Thresholds: []Threshold{AtMost("lag at "+url, 1, 2, "s")},
	}
	for name, write := range map[string]func(io.Writer, *Run) error{"json": WriteJSON, "junit": WriteJUnit, "summary": WriteSummary} {
		var b bytes.Buffer
		if err := write(&b, r); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "s3cr") {
			t.Errorf("%s shows the secret:\n%s", name, b.String())
		}
		if !strings.Contains(b.String(), "amqp://u:***@h:5672/") {
			t.Errorf("%s lost the redacted URL:\n%s", name, b.String())
		}
	}
	if !strings.Contains(r.Name, secret) {
		t.Error("redaction modified the run itself")
	}
}

// TestMarkdownEscapesUserData: names, summaries, keys and config values
// from a hostile system or broker render as text — no HTML, link, image,
// emphasis or table cell of their own — and a witness cannot close its
// code block.
func TestMarkdownEscapesUserData(t *testing.T) {
	r := failingRun()
	r.Name = "<script>alert(1)</script> | x"
	r.Config = append(r.Config, KV{"note", "[click](javascript:alert(1)) ![img](http://x/y.png) **bold** `code`\n# heading"})
	r.Invariants[2].Anomalies[0].Summary = "key <img src=x onerror=alert(1)> | broke\nthe table"
	r.Invariants[2].Anomalies[0].Witness[0].Key = "k```\n</details><script>x</script>"
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	// Inside a fenced block HTML is text; outside it must not be there.
	var prose strings.Builder
	inFence := false
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "```" {
			inFence = !inFence
			continue
		}
		if inFence && strings.Contains(line, "```") {
			t.Errorf("a witness line can close its block: %q", line)
		}
		if !inFence {
			prose.WriteString(line + "\n")
		}
	}
	for _, bad := range []string{"<script>", "<img", "[click](", "![img](", "**bold**", "\n# heading", "| broke\nthe"} {
		if strings.Contains(prose.String(), bad) {
			t.Errorf("the Markdown carries %q through:\n%s", bad, out)
		}
	}
	for _, block := range strings.Split(out, "\n\n") {
		cells := -1
		for _, line := range strings.Split(block, "\n") {
			if !strings.HasPrefix(line, "|") {
				continue
			}
			n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
			if cells >= 0 && n != cells {
				t.Errorf("a row with a cell count of its own: %q", line)
			}
			cells = n
		}
	}
}
