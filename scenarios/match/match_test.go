package match

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.yaml.in/yaml/v3"
)

// mustParse parses an expectation written in YAML, failing on problems.
func mustParse(t *testing.T, src string) *Match {
	t.Helper()
	m, probs := Parse(parseYAML(t, src), "expect")
	if len(probs) > 0 {
		t.Fatalf("parse %q: %v", src, describe(probs))
	}
	return m
}

// parseForFuzz parses an expectation outside a test, for a fuzz target's
// fixed matchers.
func parseForFuzz(src string) (*Match, []string) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, []string{err.Error()}
	}
	if len(doc.Content) != 1 {
		return nil, []string{"no document"}
	}
	m, probs := Parse(doc.Content[0], "expect")
	return m, describe(probs)
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
		msg       string
	}{
		{"unknown key", "equals: 1\nbogus: 2", 2, 1, `expect: unknown key "bogus" (want one of equals, schema, where)`},
		{"duplicate part", "equals: 1\nequals: 2", 2, 1, `expect: duplicate key "equals"`},
		{"empty mapping", "{}", 1, 1, "expect: expected at least one of equals, where, schema"},
		{"not a mapping", "- equals", 1, 1, "expect: expected a mapping, got a sequence"},
		{"bad equals value", "equals:\n  total: .nan", 2, 10, "expect.equals.total: number .nan has no JSON form"},
		{"where not a mapping", "where: /status", 1, 8, `expect.where: expected a mapping, got "/status"`},
		{"empty where", "where: {}", 1, 8, "expect.where: expected at least one JSON pointer"},
		{"pointer without slash", "where:\n  /ok: 1\n  status: confirmed", 3, 3,
			`expect.where: bad pointer "status": a JSON pointer is "" or starts with "/"`},
		{"bad pointer escape", "where:\n  /a~2b: 1", 2, 3, `"~" in a JSON pointer must be followed by 0 or 1`},
		{"pointer ending in tilde", "where:\n  /a~: 1", 2, 3, `bad pointer "/a~"`},
		{"duplicate pointer", "where:\n  /a: 1\n  /a: 2", 3, 3, `expect.where: duplicate key "/a"`},
		{"bad where value", "where:\n  /a: [.inf]", 2, 8, `expect.where["/a"][0]: number .inf has no JSON form`},
		{"bad schema", "schema:\n  type: object\n  properties:\n    n: {type: strin}", 2, 3,
			"expect.schema: not a valid JSON Schema: at /properties/n/type: value must be one of"},
		{"bad schema pattern", "schema: {pattern: '('}", 1, 9, "expect.schema: not a valid JSON Schema: at /pattern:"},
		{"schema ref to a file", "schema: {$ref: other.json}", 1, 9, "scenario schemas are inline"},
		{"schema with unknown metaschema", "schema: {$schema: 'https://example.com/meta'}", 1, 9, "scenario schemas are inline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, probs := Parse(parseYAML(t, tt.src), "expect")
			if m != nil {
				t.Errorf("got a Match with problems")
			}
			wantProblem(t, probs, tt.line, tt.col, tt.msg)
		})
	}
}

func TestParseNil(t *testing.T) {
	m, probs := Parse(nil, "expect")
	if m != nil || len(probs) != 1 || probs[0].Node == nil {
		t.Errorf("got %v %v", m, probs)
	}
}

// TestSchemaRemoteRefRefused checks that a schema naming another document
// is refused when parsed, without any attempt to fetch it: a server that
// would serve the document sees no request.
func TestSchemaRemoteRefRefused(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"type": "object"}`))
	}))
	defer srv.Close()
	for _, ref := range []string{"https://example.com/s.json", srv.URL + "/s.json", "https://example.com/s.json#/$defs/a"} {
		t.Run(ref, func(t *testing.T) {
			m, probs := Parse(parseYAML(t, "schema:\n  $ref: '"+ref+"'"), "expect")
			if m != nil {
				t.Fatal("remote $ref accepted")
			}
			wantProblem(t, probs, 2, 3, "scenario schemas are inline")
			if !strings.Contains(probs[0].Msg, strings.Split(ref, "#")[0]) {
				t.Errorf("message %q does not name %s", probs[0].Msg, ref)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server got %d requests", n)
	}
}

func TestCheck(t *testing.T) {
	order := "equals:\n  status: confirmed\n  total: 12\n  items: [{sku: A, qty: 2}]"
	where := "where:\n  /status: confirmed\n  /items/0/sku: A\n  /a~1b/c~0d: 1"
	schema := "schema:\n  type: object\n  required: [status]\n  properties:\n    status: {enum: [confirmed, cancelled]}\n    qty: {type: integer, minimum: 1}"
	tests := []struct {
		name    string
		expect  string
		payload string
		want    string // "" for a pass, else the error must contain it
	}{
		{"equals pass, any member order, 12 == 12.0", order,
			`{"items":[{"qty":2,"sku":"A"}],"total":12.0,"status":"confirmed"}`, ""},
		{"equals wrong value", order,
			`{"status":"cancelled","total":12,"items":[{"sku":"A","qty":2}]}`, `equals: at /status: got "cancelled", want "confirmed"`},
		{"equals deep difference", order,
			`{"status":"confirmed","total":12,"items":[{"sku":"A","qty":3}]}`, "equals: at /items/0/qty: got 3, want 2"},
		{"equals missing member", order,
			`{"status":"confirmed","items":[{"sku":"A","qty":2}]}`, "equals: at /total: missing, want 12"},
		{"equals extra member", order,
			`{"status":"confirmed","total":12,"items":[{"sku":"A","qty":2}],"x":true}`, "equals: at /x: got true, want no such member"},
		{"equals extra element", order,
			`{"status":"confirmed","total":12,"items":[{"sku":"A","qty":2},{}]}`, "equals: at /items/1: got {}, want no such element"},
		{"equals missing element", "equals: [1, 2]", `[1]`, "equals: at /1: missing (array has 1 elements), want 2"},
		{"equals arrays ordered", "equals: [1, 2]", `[2, 1]`, "equals: at /0: got 2, want 1"},
		{"equals type differs", "equals: {n: 1}", `{"n":"1"}`, `equals: at /n: got "1", want 1`},
		{"equals at the root", "equals: 1", `2`, "equals: got 2, want 1"},
		{"1 == 1.0", "equals: 1", `1.0`, ""},
		{"1 == 1e0", "equals: 1.0", `1e0`, ""},
		{"100 == 1E+2", "equals: 100", `1E+2`, ""},
		{"0.1 == 0.10", "equals: 0.1", `0.10`, ""},
		{"0 == -0.0", "equals: 0", `-0.0`, ""},
		{"int64 precision kept", "equals: 9007199254740993", `9007199254740992`, "got 9007199254740992, want 9007199254740993"},
		{"where pass", where, `{"status":"confirmed","items":[{"sku":"A"}],"a/b":{"c~d":1.0}}`, ""},
		{"where wrong value", where, `{"status":"cancelled","items":[{"sku":"A"}],"a/b":{"c~d":1}}`,
			`where: at /status: got "cancelled", want "confirmed"`},
		{"where deep value", "where:\n  /items/0: {sku: A}", `{"items":[{"sku":"B"}]}`, `where: at /items/0/sku: got "B", want "A"`},
		{"where missing member", where, `{"items":[{"sku":"A"}]}`, `where /status: does not resolve: the document has no member "status"`},
		{"where index out of range", "where:\n  /items/5/sku: A", `{"items":[{"sku":"A"}]}`,
			`where /items/5/sku: does not resolve: the value at /items has no element "5" (length 1)`},
		{"where through a scalar", "where:\n  /status/x: A", `{"status":"ok"}`,
			"where /status/x: does not resolve: the value at /status is a string, not an object or array"},
		{"where dash index", "where:\n  /items/-: A", `{"items":[]}`, "does not resolve"},
		{"where leading zero index", "where:\n  /items/01: A", `{"items":[1,2]}`, "does not resolve"},
		{"where whole document", "where:\n  \"\": {a: 1}", `{"a":1.0}`, ""},
		{"where whole document differs", "where:\n  \"\": 1", `2`, "where: got 2, want 1"},
		{"where null value", "where:\n  /a: null", `{"a":null}`, ""},
		{"schema pass", schema, `{"status":"confirmed","qty":2}`, ""},
		{"schema enum", schema, `{"status":"lost"}`, "schema: at /status: value must be one of 'confirmed', 'cancelled'"},
		{"schema minimum", schema, `{"status":"confirmed","qty":0}`, "schema: at /qty: minimum: got 0, want 1"},
		{"schema required", schema, `{"qty":1}`, "schema: missing property 'status'"},
		{"schema type at root", schema, `[]`, "schema: got array, want object"},
		{"schema format asserted", "schema: {format: email}", `"nobody"`, "schema: 'nobody' is not valid email"},
		{"schema huge exponent refused quickly", schema, `{"status":"confirmed","qty":1e999999}`,
			"schema: at /qty: number 1e999999 is too large to validate"},
		{"schema inline $ref", "schema: {$ref: '#/$defs/s', $defs: {s: {type: string}}}", `"x"`, ""},
		{"parts in order: equals first", "equals: {a: 1}\nwhere: {/a: 2}", `{"a":3}`, "equals: at /a"},
		{"where after equals", "equals: {a: 1}\nwhere: {/a: 2}", `{"a":1}`, "where: at /a: got 1, want 2"},
		{"invalid JSON", "equals: 1", `{"a":`, "payload: invalid JSON"},
		{"trailing data", "equals: 1", `1 2`, "payload: invalid JSON: more data after the document"},
		{"empty payload", "where: {/a: 1}", ``, "payload: invalid JSON"},
		{"hostile string escaped", "equals: {status: ok}", "{\"status\":\"\\u001b[31mred\\u0007\\u202e\"}",
			`equals: at /status: got "\x1b[31mred\a\u202e", want "ok"`},
		{"hostile key escaped", "equals: {}", "{\"\\u001b]0;x\\u0007\":1}", `equals: at /\x1b]0;x\a: got 1, want no such member`},
		{"hostile schema value escaped", "schema: {pattern: '^a'}", "\"\\u001bb\"", `schema: '\x1bb' does not match pattern`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mustParse(t, tt.expect).Check([]byte(tt.payload))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want a pass, got %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("want an error containing %q, got a pass", tt.want)
			case err != nil && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("got %q, want it to contain %q", err, tt.want)
			}
			if err != nil && strings.ContainsFunc(err.Error(), notPrintable) {
				t.Errorf("message has an unprintable rune: %q", err)
			}
		})
	}
}

func TestCheckCutsLongValues(t *testing.T) {
	long := strings.Repeat("x", 10000)
	err := mustParse(t, "equals: {s: short}").Check([]byte(`{"s":"` + long + `"}`))
	if err == nil {
		t.Fatal("want an error")
	}
	if msg := err.Error(); len(msg) > 200 || !strings.Contains(msg, "…") {
		t.Errorf("got %d bytes: %q", len(msg), msg)
	}
	big := `{"a":[` + strings.Repeat(`"yyyyyyyy",`, 5000) + `1]}`
	err = mustParse(t, "equals: 1").Check([]byte(big))
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "…") {
		t.Errorf("got %v", err)
	}
}

func TestCheckEmptyMatch(t *testing.T) {
	var nilMatch *Match
	for _, m := range []*Match{nilMatch, {}} {
		if err := m.Check([]byte(`{}`)); err == nil {
			t.Errorf("%v: empty expectation passed", m)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{"where:\n  /status: confirmed\nschema: {type: object}", `where /status = "confirmed"; schema`},
		{"equals: {b: 1, a: [x]}", `equals {"a":["x"],"b":1}`},
		{"where:\n  /a: 1\n  \"\": {a: 1}", `where /a = 1, "" = {"a":1}`},
		{"equals: " + strings.Repeat("z", 200), `equals "` + strings.Repeat("z", 79) + "…"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.src).String(); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
	var nilMatch *Match
	if got := nilMatch.String(); got != "nothing" {
		t.Errorf("nil: got %q", got)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b    string
		want    bool
		wantErr bool
	}{
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2.0],"a":1e0}`, true, false},
		{`[1,2]`, `[2,1]`, false, false},
		{`{"a":1}`, `{"a":1,"b":null}`, false, false},
		{`"1"`, `1`, false, false},
		{`null`, ` null `, true, false},
		{`0`, `-0e5`, true, false},
		{`12.50`, `1250e-2`, true, false},
		{`0.001`, `1E-3`, true, false},
		{`1e400`, `10e399`, true, false},
		{`9223372036854775807`, `9223372036854775806`, false, false},
		{`123456789012345678901234567890`, `1.2345678901234567890123456789e29`, true, false},
		{`1e99999999999999999999`, `1e99999999999999999999`, true, false},
		{`1e99999999999999999999`, `2e99999999999999999999`, false, false},
		{`{"a":`, `{}`, false, true},
		{`{}`, `{} x`, false, true},
	}
	for _, tt := range tests {
		got, err := Equal([]byte(tt.a), []byte(tt.b))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Equal(%s, %s) = %v, %v; want %v, error %v", tt.a, tt.b, got, err, tt.want, tt.wantErr)
		}
	}
}

// fuzzMatchers are the expectations FuzzCheck runs payloads through: each
// part and keyword whose code reads the payload.
var fuzzMatchers = []string{
	"equals: {status: confirmed, total: 12.5, items: [{sku: A, qty: 2}]}",
	"equals: 1",
	"equals: [null, true, \"\", {}]",
	"where:\n  /status: confirmed\n  /items/0/sku: A\n  /a~1b/c~0d: 1\n  \"\": {}\n  /items/-: 1\n  /x/01: 2",
	"schema:\n  type: object\n  required: [status]\n  properties:\n    status: {enum: [a, b], pattern: '^[a-z]+$'}\n" +
		"    qty: {type: integer, minimum: 1, multipleOf: 0.5, maximum: 1e300}\n    at: {format: date-time}\n" +
		"    mail: {format: email}\n    tags: {type: array, uniqueItems: true, contains: {const: 1}}\n" +
		"  additionalProperties: {type: [string, number, 'null', array, object]}",
	"schema: {$ref: '#/$defs/n', $defs: {n: {anyOf: [{type: string, maxLength: 3}, {type: array, items: {$ref: '#/$defs/n'}}]}}}",
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"status":"confirmed","total":12.5,"items":[{"sku":"A","qty":2}]}`, `1`, `1.0`, `[null,true,"",{}]`,
		`{"status":"a","qty":1.5,"at":"2024-01-01T00:00:00Z","mail":"a@b.c","tags":[1,1]}`,
		`{"a/b":{"c~d":1}}`, `["abc",["de",["f"]]]`, `{"qty":1e999999}`, "\"\\u001b\"", `{"a":`, `1 2`, ``,
	} {
		f.Add([]byte(s))
	}
	ms := make([]*Match, len(fuzzMatchers))
	for i, src := range fuzzMatchers {
		var probs []string
		ms[i], probs = parseForFuzz(src)
		if len(probs) > 0 {
			f.Fatalf("parse %q: %v", src, probs)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, m := range ms {
			err := m.Check(payload)
			if err != nil && (strings.ContainsFunc(err.Error(), notPrintable) || len(err.Error()) > 1000) {
				t.Fatalf("message unprintable or long: %q", err)
			}
			if err == nil && !json.Valid(payload) {
				t.Fatalf("invalid payload %q passed %s", payload, m)
			}
		}
		if json.Valid(payload) {
			if ok, err := Equal(payload, payload); !ok || err != nil {
				t.Fatalf("payload not equal to itself: %v %v", ok, err)
			}
		}
	})
}
