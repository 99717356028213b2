package schema_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/schema"
)

// want is one difference a case expects: its kind, its place in the newer
// schema, whether it is compatible, and the direction that finds it (0:
// the case's mode, for Backward and Forward).
type want struct {
	kind       schema.Kind
	pointer    string
	compatible bool
	dir        schema.Mode
}

// object wraps properties in an object schema; closed adds
// additionalProperties: false.
func object(closed bool, props string, required ...string) string {
	s := `{"type":"object","properties":{` + props + `}`
	if closed {
		s += `,"additionalProperties":false`
	}
	if len(required) > 0 {
		s += `,"required":["` + strings.Join(required, `","`) + `"]`
	}
	return s + "}"
}

func mustParse(t *testing.T, name, text string) *schema.Schema {
	t.Helper()
	s, err := schema.Parse(name, []byte(text))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return s
}

func describe(r schema.Report) string {
	var b strings.Builder
	for _, d := range r.Differences {
		fmt.Fprintf(&b, "\n  %v %s %s compatible=%v: %s", d.Direction, d.Kind, schema.ShowPointer(d.Pointer), d.Compatible, d.Reason)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n  note %v %s %s: %s", n.Direction, n.Keyword, schema.ShowPointer(n.Pointer), n.Reason)
	}
	return b.String()
}

const (
	id    = `"id":{"type":"string"}`
	nick  = `"nick":{"type":"string"}`
	nickD = `"nick":{"type":"string","default":"anon"}`
)

func TestCompatible(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		mode     schema.Mode
		ok       bool
		want     []want
		notes    []string // keywords of expected notes
	}{
		// Content models.
		{name: "optional property added to a closed model", old: object(true, id), new: object(true, id+","+nick),
			mode: schema.Backward, ok: true, want: []want{{schema.OptionalPropertyAddedToUnopenContentModel, "/properties/nick", true, 0}}},
		{name: "required property added to a closed model", old: object(true, id), new: object(true, id+","+nick, "nick"),
			mode: schema.Backward, want: []want{{schema.RequiredPropertyAddedToUnopenContentModel, "/properties/nick", false, 0}}},
		{name: "required property with a default added to a closed model", old: object(true, id), new: object(true, id+","+nickD, "nick"),
			mode: schema.Backward, ok: true, want: []want{{schema.RequiredPropertyWithDefaultAddedToUnopenContent, "/properties/nick", true, 0}}},
		{name: "optional property added to an open model", old: object(false, id), new: object(false, id+","+nick),
			mode: schema.Backward, want: []want{{schema.OptionalPropertyAddedToOpenContentModel, "/properties/nick", false, 0}}},
		{name: "required property added to an open model", old: object(false, id), new: object(false, id+","+nick, "nick"),
			mode: schema.Backward, want: []want{{schema.RequiredPropertyAddedToOpenContentModel, "/properties/nick", false, 0}}},
		{name: "property with an empty schema added to an open model", old: object(false, id), new: object(false, id+`,"any":{}`),
			mode: schema.Backward, ok: true, want: []want{{schema.PropertyWithEmptySchemaAddedToOpenContentModel, "/properties/any", true, 0}}},
		{name: "property removed from an open model", old: object(false, id+","+nick), new: object(false, id),
			mode: schema.Backward, ok: true, want: []want{{schema.PropertyRemovedFromOpenContentModel, "/properties/nick", true, 0}}},
		{name: "property removed from a closed model", old: object(true, id+","+nick), new: object(true, id),
			mode: schema.Backward, want: []want{{schema.PropertyRemovedFromClosedContentModel, "/properties/nick", false, 0}}},
		{name: "property removed, covered by additionalProperties",
			old: object(false, id+","+nick), new: `{"type":"object","properties":{` + id + `},"additionalProperties":{"type":"string"}}`,
			mode: schema.Backward, want: []want{{schema.PropertyRemovedIsCoveredByPartiallyOpen, "/properties/nick", true, 0},
				{schema.AdditionalPropertiesNarrowed, "/additionalProperties", false, 0}}},
		{name: "property removed, not covered by additionalProperties",
			old:  `{"type":"object","properties":{"n":{"type":"integer"}},"additionalProperties":{"type":"string"}}`,
			new:  `{"type":"object","additionalProperties":{"type":"string"}}`,
			mode: schema.Backward, want: []want{{schema.PropertyRemovedNotCoveredByPartiallyOpen, "/properties/n", false, 0},
				{schema.TypeChanged, "/additionalProperties/type", false, 0}}},
		{name: "closing an open model", old: object(false, id), new: object(true, id),
			mode: schema.Backward, want: []want{{schema.AdditionalPropertiesRemoved, "/additionalProperties", false, 0}}},
		{name: "opening a closed model", old: object(true, id), new: object(false, id),
			mode: schema.Backward, ok: true, want: []want{{schema.AdditionalPropertiesAdded, "/additionalProperties", true, 0}}},

		// required.
		{name: "existing property made required", old: object(true, id+","+nick, "id"), new: object(true, id+","+nick, "id", "nick"),
			mode: schema.Backward, want: []want{{schema.RequiredAttributeAdded, "/required/1", false, 0}}},
		{name: "existing property made required with a default", old: object(true, id+","+nick, "id"), new: object(true, id+","+nickD, "id", "nick"),
			mode: schema.Backward, ok: true, want: []want{{schema.RequiredAttributeWithDefaultAdded, "/required/1", true, 0},
				{schema.DefaultChanged, "/properties/nick/default", true, 0}}},
		{name: "property no longer required", old: object(true, id+","+nick, "id", "nick"), new: object(true, id+","+nick, "id"),
			mode: schema.Backward, ok: true, want: []want{{schema.RequiredAttributeRemoved, "/required", true, 0}}},

		// type.
		{name: "integer widened to number", old: `{"type":"integer"}`, new: `{"type":"number"}`,
			mode: schema.Backward, ok: true, want: []want{{schema.TypeExtended, "/type", true, 0}}},
		{name: "integer widened to number, read forward", old: `{"type":"integer"}`, new: `{"type":"number"}`,
			mode: schema.Forward, want: []want{{schema.TypeNarrowed, "/type", false, 0}}},
		{name: "number narrowed to integer", old: `{"type":"number"}`, new: `{"type":"integer"}`,
			mode: schema.Backward, want: []want{{schema.TypeNarrowed, "/type", false, 0}}},
		{name: "null allowed", old: `{"type":"string"}`, new: `{"type":["string","null"]}`,
			mode: schema.Backward, ok: true, want: []want{{schema.SumTypeExtended, "/type", true, 0}}},
		{name: "null no longer allowed", old: `{"type":["string","null"]}`, new: `{"type":"string"}`,
			mode: schema.Backward, want: []want{{schema.SumTypeNarrowed, "/type", false, 0}}},
		{name: "string became integer", old: object(true, `"n":{"type":"string"}`), new: object(true, `"n":{"type":"integer"}`),
			mode: schema.Backward, want: []want{{schema.TypeChanged, "/properties/n/type", false, 0}}},

		// enum and const.
		{name: "enum extended", old: `{"enum":["A","B"]}`, new: `{"enum":["A","B","C"]}`,
			mode: schema.Backward, ok: true, want: []want{{schema.EnumArrayExtended, "/enum", true, 0}}},
		{name: "enum extended, read forward", old: `{"enum":["A","B"]}`, new: `{"enum":["A","B","C"]}`,
			mode: schema.Forward, want: []want{{schema.EnumArrayNarrowed, "/enum", false, 0}}},
		{name: "enum narrowed", old: `{"type":"string","enum":["A","B","C"]}`, new: `{"type":"string","enum":["A","C"]}`,
			mode: schema.Backward, want: []want{{schema.EnumArrayNarrowed, "/enum", false, 0}}},
		{name: "enum with the same values in another order", old: `{"enum":["A",1,1.0]}`, new: `{"enum":[1.0,"A"]}`,
			mode: schema.Full, ok: true},
		{name: "const changed", old: `{"const":"v1"}`, new: `{"const":"v2"}`,
			mode: schema.Backward, want: []want{{schema.EnumArrayChanged, "/const", false, 0}}},

		// strings and numbers.
		{name: "maxLength decreased", old: object(true, `"s":{"type":"string","maxLength":10}`), new: object(true, `"s":{"type":"string","maxLength":5}`),
			mode: schema.Backward, want: []want{{schema.MaxLengthDecreased, "/properties/s/maxLength", false, 0}}},
		{name: "maxLength increased", old: `{"type":"string","maxLength":5}`, new: `{"type":"string","maxLength":10}`,
			mode: schema.Backward, ok: true, want: []want{{schema.MaxLengthIncreased, "/maxLength", true, 0}}},
		{name: "minLength and pattern added", old: `{"type":"string"}`, new: `{"type":"string","minLength":1,"pattern":"^[a-z]+$"}`,
			mode: schema.Backward, want: []want{{schema.MinLengthAdded, "/minLength", false, 0}, {schema.PatternAdded, "/pattern", false, 0}}},
		{name: "pattern changed", old: `{"type":"string","pattern":"^a"}`, new: `{"type":"string","pattern":"^b"}`,
			mode: schema.Backward, want: []want{{schema.PatternChanged, "/pattern", false, 0}}},
		{name: "range widened", old: `{"type":"number","minimum":0,"maximum":10,"exclusiveMaximum":11}`, new: `{"type":"number","minimum":-1,"maximum":100}`,
			mode: schema.Backward, ok: true, want: []want{{schema.MinimumDecreased, "/minimum", true, 0}, {schema.MaximumIncreased, "/maximum", true, 0},
				{schema.ExclusiveMaximumRemoved, "/exclusiveMaximum", true, 0}}},
		{name: "minimum increased", old: `{"type":"integer","minimum":0}`, new: `{"type":"integer","minimum":1}`,
			mode: schema.Backward, want: []want{{schema.MinimumIncreased, "/minimum", false, 0}}},
		{name: "exclusiveMinimum added", old: `{"type":"number"}`, new: `{"type":"number","exclusiveMinimum":0}`,
			mode: schema.Backward, want: []want{{schema.ExclusiveMinimumAdded, "/exclusiveMinimum", false, 0}}},
		{name: "multipleOf expanded", old: `{"type":"number","multipleOf":0.5}`, new: `{"type":"number","multipleOf":1.5}`,
			mode: schema.Backward, want: []want{{schema.MultipleOfExpanded, "/multipleOf", false, 0}}},
		{name: "multipleOf reduced", old: `{"type":"number","multipleOf":4}`, new: `{"type":"number","multipleOf":2}`,
			mode: schema.Backward, ok: true, want: []want{{schema.MultipleOfReduced, "/multipleOf", true, 0}}},
		{name: "multipleOf changed", old: `{"type":"integer","multipleOf":2}`, new: `{"type":"integer","multipleOf":3}`,
			mode: schema.Backward, want: []want{{schema.MultipleOfChanged, "/multipleOf", false, 0}}},

		// arrays.
		{name: "array items and bounds",
			old:  object(true, `"tags":{"type":"array","items":{"type":"string"},"maxItems":10}`),
			new:  object(true, `"tags":{"type":"array","items":{"type":"integer"},"maxItems":5,"uniqueItems":true}`),
			mode: schema.Backward, want: []want{{schema.TypeChanged, "/properties/tags/items/type", false, 0},
				{schema.MaxItemsDecreased, "/properties/tags/maxItems", false, 0}, {schema.UniqueItemsAdded, "/properties/tags/uniqueItems", false, 0}}},
		{name: "array items unconstrained", old: `{"type":"array","items":{"type":"string"},"minItems":1}`, new: `{"type":"array"}`,
			mode: schema.Backward, ok: true, want: []want{{schema.SchemaRemoved, "/items", true, 0}, {schema.MinItemsRemoved, "/minItems", true, 0}}},

		// Nested objects and $ref.
		{name: "nested object change",
			old:  object(true, `"address":`+object(true, `"zip":{"type":"string"}`)),
			new:  object(true, `"address":`+object(true, `"zip":{"type":"string"},"city":{"type":"string"}`, "city")),
			mode: schema.Backward, want: []want{{schema.RequiredPropertyAddedToUnopenContentModel, "/properties/address/properties/city", false, 0}}},
		{name: "change inside a $ref'd definition",
			old: `{"type":"object","properties":{"home":{"$ref":"#/$defs/Address"},"work":{"$ref":"#/$defs/Address"}},` +
				`"$defs":{"Address":{"type":"object","properties":{"zip":{"type":"string","maxLength":10}}}}}`,
			new: `{"type":"object","properties":{"home":{"$ref":"#/$defs/Address"},"work":{"$ref":"#/$defs/Address"}},` +
				`"$defs":{"Address":{"type":"object","properties":{"zip":{"type":"string","maxLength":5}}}}}`,
			mode: schema.Backward, want: []want{{schema.MaxLengthDecreased, "/$defs/Address/properties/zip/maxLength", false, 0}}},
		{name: "inline definition moved to $defs", old: object(true, `"a":`+object(true, `"zip":{"type":"string"}`)),
			new:  `{"type":"object","additionalProperties":false,"properties":{"a":{"$ref":"#/definitions/A"}},"definitions":{"A":` + object(true, `"zip":{"type":"string"}`) + `}}`,
			mode: schema.Full, ok: true},
		{name: "recursive schema", old: `{"type":"object","properties":{"child":{"$ref":"#"},"n":{"type":"integer"}}}`,
			new:  `{"type":"object","properties":{"child":{"$ref":"#"},"n":{"type":"number"}}}`,
			mode: schema.Backward, ok: true, want: []want{{schema.TypeExtended, "/properties/n/type", true, 0}}},

		// Combinators.
		{name: "oneOf alternative added", old: `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, new: `{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"boolean"}]}`,
			mode: schema.Backward, ok: true, want: []want{{schema.SumTypeExtended, "/oneOf", true, 0}}},
		{name: "oneOf alternative added, read forward", old: `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, new: `{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"boolean"}]}`,
			mode: schema.Forward, want: []want{{schema.SumTypeNarrowed, "/oneOf", false, 0}}},
		{name: "anyOf alternative removed", old: `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, new: `{"anyOf":[{"type":"string"}]}`,
			mode: schema.Backward, want: []want{{schema.SumTypeNarrowed, "/anyOf", false, 0}}},
		{name: "oneOf alternative changed", old: `{"oneOf":[{"type":"string","maxLength":3},{"type":"integer"}]}`, new: `{"oneOf":[{"type":"string","maxLength":2},{"type":"integer"}]}`,
			mode: schema.Backward, want: []want{{schema.CombinedTypeSubschemasChanged, "/oneOf", false, 0}}},
		{name: "schema became anyOf", old: `{"type":"string"}`, new: `{"anyOf":[{"type":"string"},{"type":"integer"}]}`,
			mode: schema.Backward, ok: true, want: []want{{schema.SumTypeExtended, "/anyOf", true, 0}}},
		{name: "allOf part removed", old: `{"allOf":[{"type":"object"},{"required":["a"]}]}`, new: `{"allOf":[{"type":"object"}]}`,
			mode: schema.Backward, ok: true, want: []want{{schema.ProductTypeNarrowed, "/allOf", true, 0}}},
		{name: "oneOf became allOf", old: `{"oneOf":[{"type":"object"},{"type":"string"}]}`, new: `{"allOf":[{"type":"object"},{"type":"string"}]}`,
			mode: schema.Backward, want: []want{{schema.CombinedTypeChanged, "/allOf", false, 0}}},

		// Full.
		{name: "optional property added to a closed model, full", old: object(true, id), new: object(true, id+","+nick),
			mode: schema.Full, want: []want{{schema.OptionalPropertyAddedToUnopenContentModel, "/properties/nick", true, schema.Backward},
				{schema.PropertyRemovedFromClosedContentModel, "/properties/nick", false, schema.Forward}}},
		{name: "description changed, full", old: `{"type":"string","description":"old"}`, new: `{"type":"string","description":"new"}`,
			mode: schema.Full, ok: true, want: []want{{schema.DescriptionChanged, "/description", true, schema.Backward},
				{schema.DescriptionChanged, "/description", true, schema.Forward}}},
		{name: "optional property removed from a closed model, forward", old: object(true, id+","+nick), new: object(true, id),
			mode: schema.Forward, ok: true, want: []want{{schema.OptionalPropertyAddedToUnopenContentModel, "/properties/nick", true, 0}}},

		// Not analysed: a note, never a silent pass.
		{name: "not changed", old: `{"type":"string","not":{"const":"a"}}`, new: `{"type":"string","not":{"const":"b"}}`,
			mode: schema.Backward, ok: true, notes: []string{"not"}},
		{name: "unevaluatedProperties", old: `{"type":"object","properties":{"a":{}},"unevaluatedProperties":false}`, new: `{"type":"object","unevaluatedProperties":false}`,
			mode: schema.Backward, ok: true, notes: []string{"unevaluatedProperties"}},
		{name: "keywords beside $ref", old: `{"$defs":{"A":{"type":"object"}},"$ref":"#/$defs/A","required":["x"]}`, new: `{"$defs":{"A":{"type":"object"}},"$ref":"#/$defs/A"}`,
			mode: schema.Backward, ok: true, notes: []string{"$ref"}},
		{name: "nested $id", old: `{"type":"object","properties":{"a":{"$id":"https://example.com/a","type":"string"}}}`,
			new:  `{"type":"object","properties":{"a":{"$id":"https://example.com/a","type":"string"}}}`,
			mode: schema.Backward, ok: true, notes: []string{"$id"}},
		{name: "unknown keywords are ignored", old: `{"type":"string","x-owner":"a"}`, new: `{"type":"string","x-owner":"b"}`,
			mode: schema.Full, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, nw := mustParse(t, "old.json", tt.old), mustParse(t, "new.json", tt.new)
			r := schema.Compatible(old, nw, tt.mode)
			if r.Mode != tt.mode {
				t.Errorf("Mode = %v, want %v", r.Mode, tt.mode)
			}
			if r.Compatible() != tt.ok {
				t.Errorf("Compatible() = %v, want %v:%s", r.Compatible(), tt.ok, describe(r))
			}
			if tt.ok && len(r.Incompatible()) != 0 || !tt.ok && len(r.Incompatible()) == 0 {
				t.Errorf("Incompatible() = %v, want ok=%v", r.Incompatible(), tt.ok)
			}
			for _, w := range tt.want {
				dir := w.dir
				if dir == 0 {
					dir = tt.mode
				}
				found := false
				for _, d := range r.Differences {
					if d.Kind == w.kind && d.Pointer == w.pointer && d.Direction == dir {
						found = true
						if d.Compatible != w.compatible {
							t.Errorf("%s at %s: Compatible = %v, want %v", w.kind, w.pointer, d.Compatible, w.compatible)
						}
						if d.Reason == "" || strings.ContainsAny(d.Reason, "\n\r") {
							t.Errorf("%s at %s: reason %q, want one line", w.kind, w.pointer, d.Reason)
						}
					}
				}
				if !found {
					t.Errorf("no %v %s at %s; got:%s", dir, w.kind, w.pointer, describe(r))
				}
			}
			for _, kw := range tt.notes {
				found := false
				for _, n := range r.Notes {
					found = found || n.Keyword == kw
				}
				if !found {
					t.Errorf("no note about %s; got:%s", kw, describe(r))
				}
			}
			if len(tt.notes) == 0 && len(r.Notes) > 0 {
				t.Errorf("unexpected notes:%s", describe(r))
			}
		})
	}
}

// TestCompatibleWithItself: every schema in testdata is compatible with
// itself under Full, with no difference at all.
func TestCompatibleWithItself(t *testing.T) {
	for _, path := range schemaFiles(t) {
		s, err := schema.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if r := schema.Compatible(s, s, schema.Full); len(r.Differences) > 0 || len(r.Notes) > 0 {
			t.Errorf("%s against itself:%s", path, describe(r))
		}
	}
}

// TestCompatibleDegenerate: nil schemas and unknown modes are reported,
// not panicked on.
func TestCompatibleDegenerate(t *testing.T) {
	s := mustParse(t, "s.json", `{"type":"string"}`)
	if r := schema.Compatible(nil, s, schema.Backward); len(r.Notes) != 1 {
		t.Errorf("nil older: %+v, want one note", r)
	}
	if r := schema.Compatible(s, s, schema.Mode(42)); r.Mode != schema.Backward {
		t.Errorf("unknown mode: Mode = %v, want backward", r.Mode)
	}
	tr, fa := mustParse(t, "t.json", `true`), mustParse(t, "f.json", `false`)
	if r := schema.Compatible(tr, fa, schema.Backward); r.Compatible() {
		t.Errorf("true -> false should break backward:%s", describe(r))
	}
	if r := schema.Compatible(fa, tr, schema.Backward); !r.Compatible() {
		t.Errorf("false -> true should keep backward:%s", describe(r))
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]schema.Mode{"backward": schema.Backward, "FORWARD": schema.Forward, " Full ": schema.Full} {
		if got, err := schema.ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "backward_transitive", "none", "\x1b[31m"} {
		_, err := schema.ParseMode(in)
		if err == nil {
			t.Errorf("ParseMode(%q): no error", in)
		} else if strings.ContainsRune(err.Error(), '\x1b') {
			t.Errorf("ParseMode(%q): unescaped control character in %q", in, err)
		}
	}
	for _, m := range []schema.Mode{schema.Backward, schema.Forward, schema.Full} {
		if back, err := schema.ParseMode(m.String()); err != nil || back != m {
			t.Errorf("ParseMode(%v.String()) = %v, %v", m, back, err)
		}
	}
}

// TestCompatibleStops: a pair of schemas whose combinators would take
// too long to compare stops with a note instead of running for hours.
func TestCompatibleStops(t *testing.T) {
	alts := func(prefix string) string {
		var b strings.Builder
		for i := range 300 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"type":"object","required":["%s%d"]}`, prefix, i)
		}
		return `{"oneOf":[` + b.String() + `]}`
	}
	old, nw := mustParse(t, "old.json", alts("a")), mustParse(t, "new.json", alts("b"))
	r := schema.Compatible(old, nw, schema.Backward)
	stopped := false
	for _, n := range r.Notes {
		stopped = stopped || strings.Contains(n.Reason, "the check stopped after comparing")
	}
	if !stopped {
		t.Errorf("no note that the check stopped:%s", describe(r))
	}
	if r.Compatible() {
		t.Error("compatible, want the unpaired alternatives reported")
	}
}
