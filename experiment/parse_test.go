package experiment_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/experiment"
)

const head = "title: t\nsystem: echo\nsteady-state: {min-throughput: 10}\n"

// TestParseRefusesBadExperiments: each problem at its line and column.
func TestParseRefusesBadExperiments(t *testing.T) {
	cases := []struct{ name, file, want string }{
		{"not yaml", "title: [", "x.yaml: not YAML"},
		{"empty", "", "empty file"},
		{"unknown key", head + "method: [{fault: kill}]\ncolour: red\n", `x.yaml:5:1: experiment: unknown key "colour"`},
		{"no system", "title: t\nsteady-state: {min-throughput: 1}\nmethod: [{fault: kill}]\n", "give either system"},
		{"both system and workload", head + "workload: w.yaml\nmethod: [{fault: kill}]\n", "give either system"},
		{"no method", head, "give a method"},
		{"method and nemesis", head + "method: [{fault: kill}]\nnemesis: {faults: [kill]}\n", "not both"},
		{"no probe", "title: t\nsystem: echo\nmethod: [{fault: kill}]\n", "gives no probe"},
		{"unknown fault", head + "method: [{fault: meteor}]\n", `x.yaml:4:18: method[0].fault: unknown fault "meteor"`},
		{"bad hold", head + "method: [{fault: kill, hold: forever}]\n", "x.yaml:4:30: method[0].hold: expected a positive duration"},
		{"overlap", head + "method: [{fault: kill, at: 1s, hold: 5s}, {fault: pause, at: 3s}]\n", "overlaps the fault before it"},
		{"past the load", head + "load: {duration: 5s}\nmethod: [{fault: kill, at: 4s, hold: 5s}]\n", "past the load's 5s"},
		{"network fault without proxy", head + "broker: {kind: redis}\nmethod: [{fault: latency}]\n", "latency needs a proxied broker"},
		{"bad nemesis range", head + "nemesis: {faults: [kill], hold: 3s-1s}\n", "nemesis.hold"},
		{"bad probe", "title: t\nsystem: echo\nsteady-state: {max-e2e-p99: fast}\nmethod: [{fault: kill}]\n", "steady-state.max-e2e-p99"},
		{"bad broker", head + "broker: {kind: pigeon}\nmethod: [{fault: kill}]\n", "broker.kind"},
		{"bad load", head + "load: {rate: lots}\nmethod: [{fault: kill}]\n", "load.rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := experiment.Parse("x.yaml", []byte(c.file))
			var se *experiment.SpecError
			if err == nil || !errors.As(err, &se) {
				t.Fatalf("err %v, want a *SpecError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err:\n%v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// TestParseWorkloadRelative: a workload path is the experiment file's
// neighbour.
func TestParseWorkloadRelative(t *testing.T) {
	x, err := experiment.Parse("dir/x.yaml", []byte("title: t\nworkload: w.yaml\nsteady-state: {min-throughput: 1}\nnemesis: {faults: [kill, pause], hold: 1s, gap: 2s-3s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if x.Workload != "dir/w.yaml" || len(x.Nemesis.Faults) != 2 || x.Nemesis.Hold[0] != x.Nemesis.Hold[1] {
		t.Fatalf("%+v %+v", x, x.Nemesis)
	}
}

// FuzzParse: no file panics the parser; every error is a *SpecError.
func FuzzParse(f *testing.F) {
	f.Add([]byte(head + "method: [{fault: kill, at: 1s, hold: 2s}]\n"))
	f.Add([]byte(head + "nemesis: {faults: [pause], hold: 1s-2s, gap: 1s}\n"))
	f.Add([]byte(head + "broker: {kind: nats, proxied: true}\nload: {duration: 10s}\nmethod: [{fault: latency, latency: 50ms, jitter: 5ms}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := experiment.Parse("f.yaml", data)
		if err != nil {
			var se *experiment.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("err %T: %v", err, err)
			}
			return
		}
		if x.Title == "" || (len(x.Method) == 0) == (x.Nemesis == nil) {
			t.Fatalf("accepted an experiment that cannot run: %+v", x)
		}
	})
}
