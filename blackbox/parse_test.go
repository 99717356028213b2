package blackbox_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/blackbox"
)

const goodHead = `name: w
correlation: {header: c}
outputs: [{topic: out}]
`

// TestParseRefusesBadWorkloads: each bad file is refused with the problem
// at its line and column, whatever part of the workload is wrong.
func TestParseRefusesBadWorkloads(t *testing.T) {
	cases := []struct{ name, file, want string }{
		{"not yaml", "name: [", "w.yaml: not YAML"},
		{"empty", "", "empty file"},
		{"unknown key", goodHead + "inputs: [{name: a, topic: in, payload: x}]\nspeed: 3\n", `w.yaml:5:1: workload: unknown key "speed"`},
		{"missing parts", "name: w\n", "w.yaml:1:1: workload: missing correlation"},
		{"bad template", goodHead + "inputs: [{name: a, topic: in, payload: '{{ .Key '}]\n", "w.yaml:4:40: inputs[0].payload: template: inputs[0].payload:1: unclosed action"},
		{"unknown method", goodHead + "inputs: [{name: a, topic: in, payload: '{{ .Nope }}'}]\n", `w.yaml:4:10: input "a", rendered for a first operation: payload`},
		{"bad generator args", goodHead + "inputs: [{name: a, topic: in, payload: '{{ .Int 9 1 }}'}]\n", "the high bound is below the low one"},
		{"both correlations", "name: w\ncorrelation: {header: c, input: /id, output: /id}\noutputs: [{topic: out}]\ninputs: [{name: a, topic: in, payload: x}]\n", "w.yaml:2:14: correlation: give either header"},
		{"bad pointer", "name: w\ncorrelation: {input: id, output: /id}\noutputs: [{topic: out}]\ninputs: [{name: a, topic: in, payload: x}]\n", "w.yaml:2:22: correlation.input: expected a JSON pointer"},
		{"no correlation value", "name: w\ncorrelation: {input: /id, output: /id}\noutputs: [{topic: out}]\ninputs: [{name: a, topic: in, payload: '{\"x\":1}'}]\n", `correlation /id: no member "id"`},
		{"expect unwatched topic", goodHead + "inputs: [{name: a, topic: in, payload: x, expect: [{topic: elsewhere}]}]\n", `w.yaml:4:52: expect: topic "elsewhere" is not among the outputs`},
		{"input is output", goodHead + "inputs: [{name: a, topic: out, payload: x}]\n", `"out" is both an input and an output topic`},
		{"step without seq", goodHead + "inputs: [{name: a, step: 0, topic: in, payload: x}]\n", "need a sequence key distribution"},
		{"step never reached", goodHead + "load: {distribution: 'seq:2'}\ninputs: [{name: a, step: 5, topic: in, payload: x}, {name: b, topic: in, payload: y}]\n", "step: 5 is never reached"},
		{"step without input", goodHead + "load: {distribution: 'seq:2'}\ninputs: [{name: a, step: 0, topic: in, payload: x}]\n", "no input for step 1"},
		{"bad rate", goodHead + "load: {rate: fast}\ninputs: [{name: a, topic: in, payload: x}]\n", "w.yaml:4:14: load.rate"},
		{"bad duration", goodHead + "load: {duration: -1s}\ninputs: [{name: a, topic: in, payload: x}]\n", "load.duration: expected a positive duration"},
		{"bad broker", goodHead + "broker: {kind: pigeon}\ninputs: [{name: a, topic: in, payload: x}]\n", `w.yaml:4:16: broker.kind: expected one of`},
		{"external without address", goodHead + "broker: {kind: redis, provider: external}\ninputs: [{name: a, topic: in, payload: x}]\n", "the external provider needs an address"},
		{"schema refuses sample", goodHead + "inputs: [{name: a, topic: in, payload: '{\"n\":1}', schema: {properties: {n: {type: string}}}}]\n", "breaks the input's schema: at /n"},
		{"bad schema", goodHead + "inputs: [{name: a, topic: in, payload: x, schema: {type: 12}}]\n", "not a usable JSON Schema"},
		{"remote ref", goodHead + "inputs: [{name: a, topic: in, payload: x, schema: {$ref: 'http://example.com/s.json'}}]\n", "may not refer to other documents"},
		{"duplicate input", goodHead + "inputs: [{name: a, topic: in, payload: x}, {name: a, topic: in, payload: y}]\n", `a second input named "a"`},
		{"service without command", goodHead + "service: {ready: up}\ninputs: [{name: a, topic: in, payload: x}]\n", "service: missing command"},
		{"bad slo", goodHead + "slo: fast\ninputs: [{name: a, topic: in, payload: x}]\n", "w.yaml:4:6: slo:"},
		{"alias", goodHead + "x: &a {topic: in}\ninputs: [*a]\n", "w.yaml:4:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := blackbox.Parse("w.yaml", []byte(c.file))
			if err == nil {
				t.Fatalf("parsed %q", c.file)
			}
			var se *blackbox.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("err %T %v, want a *SpecError", err, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err:\n%v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// TestParseGoodWorkload reads the test workload with its defaults.
func TestParseGoodWorkload(t *testing.T) {
	w, err := blackbox.ParseFile("testdata/accounts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "accounts" || len(w.Inputs) != 2 || w.Inputs[0].Step != 0 || w.Inputs[1].Step != blackbox.AnyStep {
		t.Fatalf("workload %+v", w)
	}
	if got := w.Inputs[1].Expect[0].Within.String(); got != "2s" {
		t.Fatalf("within %s", got)
	}
	if w.Outputs[0].Group != blackbox.DefaultGroup || !w.Outputs[0].Order {
		t.Fatalf("outputs %+v", w.Outputs)
	}
	if got := w.Topics(); strings.Join(got, ",") != "accounts.commands,accounts.events" {
		t.Fatalf("topics %v", got)
	}
}

// FuzzParse: no file makes the parser panic or accept a workload that
// cannot run.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodHead + "inputs: [{name: a, topic: in, payload: '{{ .UUID }}'}]\n"))
	f.Add([]byte(goodHead + "load: {distribution: 'seq:2'}\ninputs: [{name: a, step: 0, topic: in, payload: x}]\n"))
	f.Add([]byte("name: w\ncorrelation: {input: /id, output: /id}\noutputs: [{topic: out}]\ninputs: [{name: a, topic: in, payload: '{\"id\":{{ json .UUID }}}'}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := blackbox.Parse("f.yaml", data)
		if err != nil {
			var se *blackbox.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("err %T: %v", err, err)
			}
			return
		}
		if len(w.Inputs) == 0 || len(w.Outputs) == 0 || w.Name == "" {
			t.Fatalf("accepted a workload with nothing to run: %+v", w)
		}
		if _, err := w.Options(); err != nil {
			t.Fatalf("accepted a workload whose options fail: %v", err)
		}
	})
}
