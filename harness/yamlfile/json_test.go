package yamlfile

import (
	"encoding/json"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// parseYAML reads src into its document node, failing the test on a YAML
// syntax error: these tests are about what comes after.
func parseYAML(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	if len(doc.Content) != 1 {
		t.Fatalf("yaml: want one document, got %d nodes", len(doc.Content))
	}
	return doc.Content[0]
}

// wantProblem asserts that probs holds exactly one problem, at line:col,
// whose message contains msg.
func wantProblem(t *testing.T, probs []Problem, line, col int, msg string) {
	t.Helper()
	if len(probs) != 1 {
		t.Fatalf("want 1 problem, got %d: %v", len(probs), describe(probs))
	}
	p := probs[0]
	if p.Node.Line != line || p.Node.Column != col || !strings.Contains(p.Msg, msg) {
		t.Errorf("got %d:%d %q, want %d:%d containing %q", p.Node.Line, p.Node.Column, p.Msg, line, col, msg)
	}
}

func describe(probs []Problem) []string {
	out := make([]string, len(probs))
	for i, p := range probs {
		out[i] = p.Msg
	}
	return out
}

func TestJSON(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"null", "~", "null"},
		{"null word", "null", "null"},
		{"empty value", "a:", `{"a":null}`},
		{"bool", "true", "true"},
		{"bool false", "false", "false"},
		{"int", "42", "42"},
		{"negative int", "-7", "-7"},
		{"hex int", "0x1F", "31"},
		{"max int64", "9223372036854775807", "9223372036854775807"},
		{"min int64", "-9223372036854775808", "-9223372036854775808"},
		{"float", "1.5", "1.5"},
		{"float exponent", "2.5e-3", "0.0025"},
		{"integral float", "1.0", "1"},
		{"explicit float tag", "!!float 3", "3"},
		{"string", "hello", `"hello"`},
		{"quoted number", `"12"`, `"12"`},
		{"yes is a string", "yes", `"yes"`},
		{"timestamp is a string", "2024-01-02", `"2024-01-02"`},
		{"custom tag is a string", "!sku A-1", `"A-1"`},
		{"html kept", "a: <b>&", `{"a":"<b>&"}`},
		{"control char escaped", `"\x1b"`, `"\u001b"`},
		{"sequence", "[1, a, null]", `[1,"a",null]`},
		{"empty containers", "{a: [], b: {}}", `{"a":[],"b":{}}`},
		{"file order", "z: 1\na: 2", `{"z":1,"a":2}`},
		{"nested", "order:\n  items:\n    - sku: A\n      qty: 2\n  paid: false",
			`{"order":{"items":[{"sku":"A","qty":2}],"paid":false}}`},
		{"depth 64", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
			strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, probs := JSON(parseYAML(t, tt.src), "v")
			if len(probs) > 0 {
				t.Fatalf("problems: %v", describe(probs))
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

func TestJSONProblems(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	tests := []struct {
		name      string
		src       string
		line, col int
		msg       string
	}{
		{"duplicate key", "a: 1\nb: 2\na: 3", 3, 1, `v: duplicate key "a"`},
		{"nested duplicate key", "a:\n  x: 1\n  x: 2", 3, 3, `v.a: duplicate key "x"`},
		{"non-string key", "1: a", 1, 1, "v: expected a field name, got integer 1"},
		{"alias value", "a: &x 1\nb: *x", 2, 4, "v.b: aliases are not supported"},
		{"alias in sequence", "- &x 1\n- *x", 2, 3, "v[1]: aliases are not supported"},
		{"merge key", "a: &x {k: 1}\nb:\n  <<: *x", 3, 3, `got !!merge "<<"`},
		{"2^70", "1180591620717411303424", 1, 1, "integer 1180591620717411303424 is out of range"},
		{"2^64-1", "n: 18446744073709551615", 1, 4, "v.n: integer 18446744073709551615 is out of range"},
		{"bad int", "!!int 1.5", 1, 1, `v: invalid integer "1.5"`},
		{"bad bool", "!!bool yes", 1, 1, `v: invalid boolean "yes"`},
		{"inf", "x: .inf", 1, 4, "v.x: number .inf has no JSON form"},
		{"nan", "[1, .nan]", 1, 5, "v[1]: number .nan has no JSON form"},
		{"depth 65", deep, 1, MaxDepth + 1, "nested deeper than 64 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, probs := JSON(parseYAML(t, tt.src), "v")
			if got != nil {
				t.Errorf("got output %s with problems", got)
			}
			wantProblem(t, probs, tt.line, tt.col, tt.msg)
		})
	}
}

func TestJSONOddNodes(t *testing.T) {
	if _, probs := JSON(nil, "v"); len(probs) != 1 || probs[0].Node == nil {
		t.Errorf("nil node: got %v", probs)
	}
	var empty yaml.Node
	if err := yaml.Unmarshal(nil, &empty); err != nil {
		t.Fatal(err)
	}
	if _, probs := JSON(&empty, "v"); len(probs) != 1 {
		t.Errorf("empty document: got %v", describe(probs))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: 1"), &doc); err != nil {
		t.Fatal(err)
	}
	if got, probs := JSON(&doc, "v"); string(got) != `{"a":1}` || len(probs) > 0 {
		t.Errorf("document node: got %s %v", got, describe(probs))
	}
	alias := &yaml.Node{Kind: yaml.AliasNode, Alias: &yaml.Node{Kind: yaml.ScalarNode, Value: "1"}}
	if _, probs := JSON(alias, "v"); len(probs) != 1 {
		t.Errorf("top-level alias: got %v", describe(probs))
	}
}

func TestJSONReportsEveryProblem(t *testing.T) {
	_, probs := JSON(parseYAML(t, "a: &x .inf\nb: *x\na: 2"), "v")
	if len(probs) != 3 {
		t.Errorf("want 3 problems (inf, alias, duplicate), got %v", describe(probs))
	}
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		"a: 1", "[1, 2.5, x, null, true]", "{a: {b: [c]}}", "a: &x 1\nb: *x", "1180591620717411303424",
		".inf", "!!binary aGk=", "a: 1\na: 2", "? [a]\n: b", "- !!int 0x7fffffffffffffff", "\"\\u0000\\x1b\"",
		strings.Repeat("[", 70) + strings.Repeat("]", 70),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(src), &n); err != nil {
			return
		}
		out, probs := JSON(&n, "v")
		if len(probs) > 0 {
			if out != nil {
				t.Fatalf("output %q with problems %v", out, describe(probs))
			}
			for _, p := range probs {
				if p.Node == nil {
					t.Fatalf("problem without a node: %s", p.Msg)
				}
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %q", out, src)
		}
	})
}
