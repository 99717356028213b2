package asyncapi_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/edkit-dev/edkit/blackbox/asyncapi"
)

const seeds = 200

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// independent compiles a message's SchemaJSON afresh, so that a test
// checks samples with a validator Sample did not use.
func independent(t *testing.T, m asyncapi.Message) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.SchemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("test:///s.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("test:///s.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustValidate(t *testing.T, s *jsonschema.Schema, payload []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err == nil {
		err = s.Validate(v)
	}
	if err != nil {
		t.Fatalf("sample %s breaks the schema: %v", payload, err)
	}
}

// TestSampleAccounts: for every message of both accounts documents and 200
// seeds, Sample's payload meets the schema (checked by a validator of the
// test's own), the same seed gives the same payload, a message with
// examples sends one of them, and one without varies with the seed.
func TestSampleAccounts(t *testing.T) {
	for _, file := range []string{"testdata/accounts-3.0.yaml", "testdata/accounts-2.6.yaml"} {
		d, err := asyncapi.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range d.Operations {
			for _, m := range op.Messages {
				t.Run(file+"/"+m.Name, func(t *testing.T) { checkSamples(t, m) })
			}
		}
	}
}

func checkSamples(t *testing.T, m asyncapi.Message) {
	t.Helper()
	s := independent(t, m)
	distinct := map[string]bool{}
	for seed := range uint64(seeds) {
		p, err := asyncapi.Sample(m, seeded(seed))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		mustValidate(t, s, p)
		again, err := asyncapi.Sample(m, seeded(seed))
		if err != nil || !bytes.Equal(p, again) {
			t.Fatalf("seed %d: %s, then %s (%v)", seed, p, again, err)
		}
		if len(m.Examples) > 0 && !slices.ContainsFunc(m.Examples, func(ex []byte) bool { return bytes.Equal(ex, p) }) {
			t.Fatalf("seed %d: %s is none of the examples", seed, p)
		}
		distinct[string(p)] = true
	}
	want := len(m.Examples) // every example gets sent
	if want == 0 {
		want = seeds / 2 // generated payloads vary
	}
	if len(distinct) < want {
		t.Errorf("%d distinct payloads in %d seeds, want at least %d", len(distinct), seeds, want)
	}
}

// message parses a one-message 3.0 document whose payload schema is
// schema (YAML flow style).
func message(t *testing.T, schema string) asyncapi.Message {
	t.Helper()
	doc := v3Head + "channels: {c: {messages: {M: {payload: " + schema + "}}}}\noperations: {o: {action: receive, channel: {$ref: '#/channels/c'}}}\n"
	d, err := asyncapi.Parse("doc.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("%s: %v", schema, err)
	}
	return d.Operations[0].Messages[0]
}

// TestSampleSchemas: the generator honours each keyword it knows, for 200
// seeds each.
func TestSampleSchemas(t *testing.T) {
	cases := map[string]string{
		"integer bounds":       "{type: integer, minimum: -5, maximum: 5}",
		"exclusive bounds":     "{type: integer, exclusiveMinimum: 3, exclusiveMaximum: 5}",
		"draft-04 exclusive":   "{$schema: 'http://json-schema.org/draft-04/schema#', type: number, minimum: 0, exclusiveMinimum: true, maximum: 0.02}",
		"integer multipleOf":   "{type: integer, minimum: 1, maximum: 1000000000000, multipleOf: 7}",
		"fractional multiple":  "{type: integer, multipleOf: 2.5}",
		"number multipleOf":    "{type: number, minimum: -1, maximum: 1, multipleOf: 0.125}",
		"tiny range":           "{type: number, exclusiveMinimum: 0, exclusiveMaximum: 0.001}",
		"negative only":        "{type: integer, maximum: -1000}",
		"huge bounds":          "{type: number, minimum: -1e300, maximum: 1e300}",
		"formats":              "{type: object, required: [a, b, c, d, e, f, g, h, i, j, k], properties: {a: {format: date-time}, b: {format: date}, c: {format: time}, d: {format: email}, e: {format: uuid}, f: {format: uri}, g: {format: hostname}, h: {format: ipv4}, i: {format: ipv6}, j: {format: duration}, k: {format: uri-reference}}}",
		"lengths":              "{type: array, minItems: 3, items: [{type: string, minLength: 20}, {type: string, maxLength: 2}, {type: string, minLength: 5, maxLength: 5}]}",
		"pattern with default": "{type: string, pattern: '^[A-Z]{2}[0-9]{2}$', default: AB12}",
		"enum and const":       "{type: object, required: [a, b], properties: {a: {enum: [1, x, null, {k: v}]}, b: {const: [1, 2]}}}",
		"nullable":             "{type: [string, 'null', integer]}",
		"oneOf":                "{oneOf: [{type: string, maxLength: 3}, {type: integer, minimum: 10}, {type: object, required: [kind], properties: {kind: {const: a}}}]}",
		"overlapping oneOf":    "{oneOf: [{type: integer, minimum: 0, maximum: 10}, {type: integer, minimum: 5, maximum: 20}]}",
		"anyOf with siblings":  "{type: object, required: [id], properties: {id: {type: integer}}, anyOf: [{required: [a], properties: {a: {type: boolean}}}, {required: [b], properties: {b: {type: string}}}]}",
		"allOf":                "{allOf: [{type: object, required: [a], properties: {a: {type: integer, minimum: 3}}}, {required: [b], properties: {a: {maximum: 4}, b: {type: array, items: {type: boolean}}}}]}",
		"unique items":         "{type: array, minItems: 3, maxItems: 3, uniqueItems: true, items: {enum: [a, b, c, d]}}",
		"tuple only":           "{type: array, items: [{type: integer}], additionalItems: false}",
		"prefixItems":          "{$schema: 'https://json-schema.org/draft/2020-12/schema', type: array, prefixItems: [{const: head}], items: {type: integer}, minItems: 2}",
		"contains":             "{type: array, contains: {const: 42}}",
		"minProperties":        "{type: object, minProperties: 3, properties: {a: {type: string}}, additionalProperties: {type: integer}}",
		"maxProperties":        "{type: object, maxProperties: 1, required: [a], properties: {a: {type: string}, b: {type: string}, c: {type: string}}}",
		"untyped":              "{properties: {n: {minimum: 2}, s: {maxLength: 1}, any: {}}}",
		"boolean schemas":      "{type: object, required: [a], properties: {a: true, b: false}}",
		"no payload schema":    "{}",
	}
	for name, schema := range cases {
		t.Run(name, func(t *testing.T) {
			m := message(t, schema)
			s := independent(t, m)
			for seed := range uint64(seeds) {
				p, err := asyncapi.Sample(m, seeded(seed))
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				mustValidate(t, s, p)
			}
		})
	}
}

// TestSampleRefuses: a schema no generated payload can meet is an error
// that names the message and the place, wrapping ErrCannotSample; nothing
// the schema refuses is returned.
func TestSampleRefuses(t *testing.T) {
	cases := []struct{ name, schema, want string }{
		{"pattern without examples", "{type: object, required: [iban], properties: {iban: {type: string, pattern: '^[A-Z]{2}[0-9]{20}$'}}}", `message M: asyncapi: cannot generate a payload at /iban: a string matching pattern "^[A-Z]{2}[0-9]{20}$": edkit does not invent strings for patterns`},
		{"examples that miss the pattern", "{type: string, pattern: '^[0-9]+$', examples: [abc]}", "a string matching pattern"},
		{"empty integer range", "{type: integer, minimum: 1.2, maximum: 1.8}", `at "": no integer meets the bounds and multipleOf`},
		{"no multiple in range", "{type: number, minimum: 1, maximum: 2, multipleOf: 5}", "no number meets the bounds"},
		{"false property", "{type: object, required: [a], properties: {a: false}}", "at /a: the schema is false"},
		{"too many items", "{type: array, minItems: 100000}", "minItems 100000 is more than the 1000 items"},
		{"too long", "{type: string, minLength: 100000}", "minLength 100000 is more than"},
		{"contradiction", "{type: string, minLength: 5, maxLength: 2}", "maxLength 2 is below minLength 5"},
		{"too large", "{type: array, minItems: 1000, items: {type: array, minItems: 1000, items: {type: integer}}}", "the payload would exceed 10000 values"},
		{"unsatisfiable not", "{type: integer, minimum: 0, maximum: 3, not: {type: integer}}", "no payload of 32 generated met the schema; the last: message M: payload at \"\" (the whole payload)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := message(t, c.schema)
			p, err := asyncapi.Sample(m, seeded(1))
			if err == nil || p != nil {
				t.Fatalf("got %s, %v; want an error", p, err)
			}
			if !errors.Is(err, asyncapi.ErrCannotSample) || !strings.HasPrefix(err.Error(), "message M: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error:\n%v\nwant ErrCannotSample and %q", err, c.want)
			}
		})
	}
}

// TestSampleBuiltMessage: a Message built by hand, without Parse, samples
// from its SchemaJSON; one without a compiled schema is refused.
func TestSampleBuiltMessage(t *testing.T) {
	m := message(t, "{type: object, required: [n], properties: {n: {type: integer, minimum: 7, maximum: 7}}}")
	built := asyncapi.Message{Name: "B", Schema: m.Schema, SchemaJSON: m.SchemaJSON}
	if p, err := asyncapi.Sample(built, seeded(1)); err != nil || string(p) != `{"n":7}` {
		t.Fatalf("got %s, %v", p, err)
	}
	if _, err := asyncapi.Sample(asyncapi.Message{Name: "X"}, seeded(1)); !errors.Is(err, asyncapi.ErrCannotSample) {
		t.Fatalf("got %v", err)
	}
}

// TestSampleConcurrent: goroutines share one Message, each with its own
// generator, as a load generator does (run with -race).
func TestSampleConcurrent(t *testing.T) {
	d, err := asyncapi.ParseFile("testdata/accounts-3.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := d.Outputs()[0].Messages[0]
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range uint64(8) {
		wg.Go(func() {
			r := seeded(g)
			for range 50 {
				if _, err := asyncapi.Sample(m, r); err != nil {
					errs <- fmt.Errorf("goroutine %d: %w", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
