package schema_test

import (
	"os"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/schema"
)

// seeds are schemas for the fuzzers to start from: each construct the
// comparison knows, and some it only notes.
var seeds = []string{
	`{"type":"object","additionalProperties":false,"properties":{"id":{"type":"string","maxLength":5}},"required":["id"]}`,
	`{"type":["integer","null"],"minimum":0,"multipleOf":2,"enum":[0,2,null]}`,
	`{"oneOf":[{"type":"string","pattern":"^a"},{"$ref":"#/$defs/N"}],"$defs":{"N":{"type":"number","exclusiveMaximum":3}}}`,
	`{"type":"array","items":{"$ref":"#"},"minItems":1,"uniqueItems":true}`,
	`{"anyOf":[{"const":1},{"allOf":[{"type":"object"},{"required":["a"],"patternProperties":{"^x-":{"type":"string"}}}]}]}`,
	`{"type":"object","dependentRequired":{"a":["b"]},"dependentSchemas":{"c":{"required":["d"]}},"additionalProperties":{"type":"integer"}}`,
	`{"not":{"type":"string"},"if":{"type":"object"},"then":{"required":["x"]},"prefixItems":[{"type":"string"}],"unevaluatedProperties":false}`,
	`true`, `false`, `{}`,
}

// FuzzCompatible: for any two documents that parse, Compatible never
// panics, in any mode, and a schema is always compatible with itself.
func FuzzCompatible(f *testing.F) {
	for i, a := range seeds {
		f.Add([]byte(a), []byte(seeds[(i+1)%len(seeds)]))
		f.Add([]byte(a), []byte(a))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		sa, errA := schema.Parse("a.json", a)
		sb, errB := schema.Parse("b.json", b)
		if errA == nil {
			if r := schema.Compatible(sa, sa, schema.Full); !r.Compatible() {
				t.Fatalf("%s is incompatible with itself:%s", a, describe(r))
			}
		}
		if errA != nil || errB != nil {
			return
		}
		for _, m := range []schema.Mode{schema.Backward, schema.Forward, schema.Full} {
			r := schema.Compatible(sa, sb, m)
			for _, d := range r.Differences {
				if d.Kind == "" || d.Reason == "" || strings.ContainsAny(d.Reason, "\n\r") {
					t.Fatalf("malformed difference %+v", d)
				}
			}
		}
	})
}

// FuzzParse: Parse never panics, and what it accepts as JSON it accepts
// the same as YAML; every error names the file.
func FuzzParse(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, path := range []string{"testdata/versions/order.v3.yaml", "testdata/versions/customer.v9.yaml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("type: [\n"))
	f.Add([]byte("a: &x 1\nb: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"f.json", "f.yaml", "f"} {
			s, err := schema.Parse(name, data)
			if err != nil {
				if !strings.HasPrefix(err.Error(), name+":") {
					t.Fatalf("Parse(%s): error %q does not name the file", name, err)
				}
				continue
			}
			_ = s.Validate(data)
		}
	})
}
