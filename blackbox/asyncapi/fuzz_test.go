package asyncapi_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/blackbox/asyncapi"
)

// FuzzParse: whatever the document, Parse never panics, and either
// returns a document whose messages all have a schema, or errors that are
// all *SpecError. The seeds are small on purpose: the fuzzer minimizes
// every input that finds new code, and minimizing a document of kilobytes
// takes most of a short fuzzing run.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		v3Op,
		edit("id: {type: string}", "id: {$ref: '#/components/schemas/P'}"),
		edit("action: send", "action: 7"),
		edit("    M:\n", "    M:\n      examples: [{payload: {id: x}}, {headers: {}}]\n      contentType: application/json\n"),
		edit("payload: {$ref: '#/components/schemas/P'}", "payload: {schemaFormat: 'application/schema+json;version=draft-04', schema: {type: integer, minimum: 1, exclusiveMinimum: true}}"),
		edit("id: {type: string}", "id: {allOf: [{$ref: '#/components/schemas/Q'}, {maxLength: 3}]}\n    Q: {type: string, enum: [a, b]}"),
		"asyncapi: 2.6.0\ninfo: {title: t, version: '1'}\nchannels:\n  c:\n    publish:\n      operationId: in\n      message: {oneOf: [{$ref: '#/components/messages/A'}, {name: B, payload: {type: string}}]}\n    subscribe: {message: {payload: {type: [integer, 'null']}}}\ncomponents: {messages: {A: {payload: {type: object, required: [a]}}}}\n",
		`{"asyncapi": "3.0.0", "operations": {"o": {"action": "receive", "channel": {"$ref": "#/channels/c"}}}, "channels": {"c": {}}}`,
		"asyncapi: 3.0.0\na: &a [*a]\n", "", "[", "asyncapi: 2.0.0\nchannels: {'%7B': {$ref: '#/channels/%7B'}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := asyncapi.Parse("fuzz.yaml", data)
		if err != nil {
			if d != nil {
				t.Fatalf("a document with an error: %v", err)
			}
			checkSpecErrors(t, err)
			return
		}
		for _, op := range d.Operations {
			for _, m := range op.Messages {
				if m.Schema == nil || m.SchemaJSON == nil {
					t.Fatalf("operation %s, message %s without a schema", op.ID, m.Name)
				}
			}
		}
	})
}

// FuzzSample: whatever payload schema a document gives, Sample never
// panics or runs away: it returns a payload that Validate accepts, or an
// error wrapping ErrCannotSample.
func FuzzSample(f *testing.F) {
	for _, s := range []string{
		`{"type": "object", "required": ["a"], "properties": {"a": {"type": "integer", "minimum": 1, "maximum": 9, "multipleOf": 3}}}`,
		`{"type": "array", "items": [{"type": "string", "format": "uuid"}], "additionalItems": {"type": "number", "exclusiveMaximum": 0.01}, "minItems": 2}`,
		`{"oneOf": [{"type": "string", "pattern": "^a$", "examples": ["a"]}, {"allOf": [{"type": "number"}, {"minimum": 2.5}]}]}`,
		`{"type": ["null", "boolean"], "not": {"const": null}}`,
		`{"type": "object", "minProperties": 2, "maxProperties": 1}`,
		`{"anyOf": [{"enum": [1, "x"]}, {"const": {"k": [1]}}], "uniqueItems": true}`,
	} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, schema string, seed uint64) {
		if strings.ContainsAny(schema, "\r\n") {
			return // the schema is written on one line of the document
		}
		doc := v3Head + "channels: {c: {messages: {M: {payload: " + schema + "}}}}\noperations: {o: {action: receive, channel: {$ref: '#/channels/c'}}}\n"
		d, err := asyncapi.Parse("fuzz.yaml", []byte(doc))
		if err != nil {
			return
		}
		m := d.Operations[0].Messages[0]
		p, err := asyncapi.Sample(m, rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			if !errors.Is(err, asyncapi.ErrCannotSample) {
				t.Fatalf("%s: error %v is not ErrCannotSample", schema, err)
			}
			return
		}
		if err := asyncapi.Validate(m, p); err != nil {
			t.Fatalf("%s: sample %s: %v", schema, p, err)
		}
	})
}
