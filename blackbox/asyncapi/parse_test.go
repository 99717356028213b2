package asyncapi_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/blackbox/asyncapi"
)

// shape is what a test compares of an operation: the model without the
// compiled schemas and the positions, which differ between versions.
type shape struct {
	ID, Channel string
	Action      asyncapi.Action
	Messages    []messageShape
}

type messageShape struct {
	Name, ContentType string
	Schema            any
	Examples          []any
}

func shapes(t *testing.T, d *asyncapi.Document) []shape {
	t.Helper()
	var out []shape
	for _, op := range d.Operations {
		s := shape{ID: op.ID, Channel: op.Channel, Action: op.Action}
		for _, m := range op.Messages {
			var schema any
			if err := json.Unmarshal(m.SchemaJSON, &schema); err != nil {
				t.Fatalf("%s: SchemaJSON %q: %v", m.Name, m.SchemaJSON, err)
			}
			ms := messageShape{Name: m.Name, ContentType: m.ContentType, Schema: schema}
			for _, ex := range m.Examples {
				var v any
				if err := json.Unmarshal(ex, &v); err != nil {
					t.Fatalf("%s: example %q: %v", m.Name, ex, err)
				}
				ms.Examples = append(ms.Examples, v)
			}
			s.Messages = append(s.Messages, ms)
		}
		out = append(out, s)
	}
	return out
}

// toJSON rewrites a YAML test document as JSON, which Parse reads too.
func toJSON(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestParseVersionsAgree reads the accounts service described in AsyncAPI
// 3.0 and 2.6, as YAML and as JSON: all four give the same operations —
// the 2.6 publish is the application's receive, its subscribe a send, a
// 2.6 oneOf several messages — with the same resolved schemas.
func TestParseVersionsAgree(t *testing.T) {
	ref, err := asyncapi.ParseFile("testdata/accounts-3.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := shapes(t, ref)
	cases := []struct {
		name, file string
		data       []byte
	}{
		{"3.0 yaml", "testdata/accounts-3.0.yaml", nil},
		{"2.6 yaml", "testdata/accounts-2.6.yaml", nil},
		{"3.0 json", "accounts-3.0.json", toJSON(t, "testdata/accounts-3.0.yaml")},
		{"2.6 json", "accounts-2.6.json", toJSON(t, "testdata/accounts-2.6.yaml")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d *asyncapi.Document
			var err error
			if c.data == nil {
				d, err = asyncapi.ParseFile(c.file)
			} else {
				d, err = asyncapi.Parse(c.file, c.data)
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Title != "Accounts service" || d.Version != "1.4.0" {
				t.Errorf("title %q, version %q", d.Title, d.Version)
			}
			if diff := cmp.Diff(want, shapes(t, d)); diff != "" {
				t.Errorf("operations differ from 3.0 yaml (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseAccounts checks the model of the 3.0 document itself: who
// sends what, where, and the positions of the operations.
func TestParseAccounts(t *testing.T) {
	d, err := asyncapi.ParseFile("testdata/accounts-3.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d.AsyncAPI != "3.0.0" || len(d.Operations) != 2 {
		t.Fatalf("document %+v", d)
	}
	in, out := d.Inputs(), d.Outputs()
	if len(in) != 1 || in[0].ID != "handleCommand" || in[0].Channel != "bank.commands" || in[0].Line != 26 || in[0].Column != 3 {
		t.Errorf("inputs %+v", in)
	}
	if len(out) != 1 || out[0].ID != "publishEvent" || out[0].Channel != "bank.events" || out[0].Action != asyncapi.Send {
		t.Errorf("outputs %+v", out)
	}
	var names []string
	for _, m := range in[0].Messages {
		names = append(names, m.Name)
		if m.Schema == nil || m.ContentType != "application/json" {
			t.Errorf("message %+v", m)
		}
	}
	if strings.Join(names, ",") != "OpenAccount,Credit,Debit" || len(in[0].Messages[0].Examples) != 2 {
		t.Errorf("messages %v", names)
	}
	if s := string(in[0].Messages[1].SchemaJSON); strings.Contains(s, "$ref") || !strings.HasPrefix(s, `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"`) {
		t.Errorf("Credit's schema is not resolved: %s", s)
	}
}

const v3Head = `asyncapi: 3.0.0
info: {title: t, version: '1'}
`

// TestParseVariants covers the shapes a valid document may take beyond the
// accounts service.
func TestParseVariants(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []shape
	}{
		{"3.0 channel without address, operation without messages", v3Head + `channels:
  orders.placed:
    messages:
      Placed: {payload: {type: object}}
      Cancelled: {name: OrderCancelled, payload: {type: object}}
operations:
  onPlaced: {action: receive, channel: {$ref: '#/channels/orders.placed'}}
`, []shape{{ID: "onPlaced", Channel: "orders.placed", Action: asyncapi.Receive, Messages: []messageShape{
			{Name: "Placed", ContentType: "application/json", Schema: obj(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`)},
			{Name: "OrderCancelled", ContentType: "application/json", Schema: obj(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`)},
		}}}},
		{"3.0 null address, multi-format 2020-12 schema, +json content type", v3Head + `channels:
  c: {address: null, messages: {m: {contentType: application/cloudevents+json, payload: {schemaFormat: 'application/schema+json;version=2020-12', schema: {$ref: '#/components/schemas/S'}}}}}
operations:
  o: {action: send, channel: {$ref: '#/channels/c'}, messages: [{$ref: '#/channels/c/messages/m'}]}
components:
  schemas:
    S: {$schema: 'https://json-schema.org/draft/2020-12/schema', prefixItems: [{type: string}]}
`, []shape{{ID: "o", Channel: "c", Action: asyncapi.Send, Messages: []messageShape{
			{Name: "m", ContentType: "application/cloudevents+json", Schema: obj(`{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[{"type":"string"}]}`)},
		}}}},
		{"a component with an $id used twice", v3Head + `channels:
  c: {messages: {m: {payload: {type: object, properties: {a: {$ref: '#/components/schemas/U'}, b: {$ref: '#/components/schemas/U'}}}}}}
operations:
  o: {action: send, channel: {$ref: '#/channels/c'}}
components:
  schemas:
    U: {$id: 'https://example.com/u.json', $schema: 'http://json-schema.org/draft-07/schema#', type: string}
`, []shape{{ID: "o", Channel: "c", Action: asyncapi.Send, Messages: []messageShape{
			{Name: "m", ContentType: "application/json", Schema: obj(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{` +
				`"a":{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"},"b":{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"}}}`)},
		}}}},
		{"2.x without operationId, message without payload, property names that are keywords", `asyncapi: 2.3.0
info: {title: t, version: '1'}
channels:
  audit:
    subscribe:
      message: {payload: {properties: {enum: {$ref: '#/components/schemas/E'}, $ref: {type: string}}, enum: [{$ref: x}]}}
    publish:
      message: {messageId: Note}
components:
  schemas:
    E: {type: integer}
`, []shape{
			{ID: "subscribe:audit", Channel: "audit", Action: asyncapi.Send, Messages: []messageShape{
				{Name: "subscribe:audit#0", ContentType: "application/json", Schema: obj(`{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"enum":{"type":"integer"},"$ref":{"type":"string"}},"enum":[{"$ref":"x"}]}`)},
			}},
			{ID: "publish:audit", Channel: "audit", Action: asyncapi.Receive, Messages: []messageShape{
				{Name: "Note", ContentType: "application/json", Schema: obj(`{"$schema":"http://json-schema.org/draft-07/schema#"}`)},
			}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := asyncapi.Parse("doc.yaml", []byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, shapes(t, d)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func obj(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

// v3Op is a 3.0 document with one operation on channel c, carrying
// message M of payload schema P in components; the test cases edit it.
const v3Op = v3Head + `channels:
  c:
    address: bank.events
    messages:
      M: {$ref: '#/components/messages/M'}
operations:
  o:
    action: send
    channel: {$ref: '#/channels/c'}
components:
  messages:
    M:
      payload: {$ref: '#/components/schemas/P'}
  schemas:
    P:
      type: object
      required: [id]
      properties:
        id: {type: string}
`

// edit replaces old in v3Op by new, failing loudly when old is not there.
func edit(old, new string) string {
	if !strings.Contains(v3Op, old) {
		panic("v3Op has no " + old)
	}
	return strings.Replace(v3Op, old, new, 1)
}

// TestParseRefusesBadDocuments: each document edkit cannot use is
// refused, with every problem a *SpecError at its line and column.
func TestParseRefusesBadDocuments(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"not YAML", "asyncapi: [3.0.0\ninfo: {", "doc.yaml:1: not YAML or JSON: did not find expected ',' or ']'"},
		{"empty", "", "doc.yaml: empty document"},
		{"not a mapping", "- asyncapi\n", "doc.yaml:1:1: expected an AsyncAPI document"},
		{"no version", "info: {title: t}\n", "doc.yaml:1:1: missing asyncapi"},
		{"unknown version", strings.Replace(v3Op, "3.0.0", "1.2.0", 1), `doc.yaml:1:11: asyncapi: version "1.2.0" is not supported (want 2.0.0 to 2.6.0, or 3.0.x)`},
		{"later version", strings.Replace(v3Op, "3.0.0", "3.1.0", 1), `doc.yaml:1:11: asyncapi: version "3.1.0" is not supported`},
		{"version as a number", strings.Replace(v3Op, "3.0.0", "3.0", 1), `doc.yaml:1:11: asyncapi: version number 3.0 is not supported`},
		{"remote $ref", edit("{$ref: '#/components/schemas/P'}", "{$ref: 'https://example.com/p.json'}"), `doc.yaml:15:23: operations.o.channel.messages.M.payload: $ref "https://example.com/p.json" refused: only references inside the document (#/components/...) are supported, not to other files or URLs`},
		{"file $ref", edit("$ref: '#/components/messages/M'", "$ref: 'messages.yaml#/M'"), `doc.yaml:7:17: operations.o.channel.messages.M: $ref "messages.yaml#/M" refused`},
		{"dangling $ref", edit("#/components/schemas/P", "#/components/schemas/Nope"), `doc.yaml:15:23: operations.o.channel.messages.M.payload: $ref "#/components/schemas/Nope": the document has nothing at /components/schemas/Nope`},
		{"ref cycle", edit("        id: {type: string}\n", "        id: {$ref: '#/components/schemas/A'}\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\n"), "doc.yaml:23:15: operations.o.channel.messages.M.payload: $ref cycle: #/components/schemas/A → #/components/schemas/B → #/components/schemas/A (recursive schemas are not supported)"},
		{"recursive schema", edit("        id: {type: string}\n", "        id: {type: string}\n        parent: {$ref: '#/components/schemas/P'}\n"), "doc.yaml:22:24: operations.o.channel.messages.M.payload: $ref cycle: #/components/schemas/P → #/components/schemas/P"},
		{"message ref cycle", edit("      M: {$ref: '#/components/messages/M'}", "      M: {$ref: '#/channels/c/messages/M'}"), "doc.yaml:7:17: operations.o.channel.messages.M: $ref cycle: #/channels/c/messages/M → #/channels/c/messages/M"},
		{"missing channel", edit("    channel: {$ref: '#/channels/c'}\n", ""), "doc.yaml:10:5: operations.o: missing channel (want channel: {$ref: '#/channels/...'})"},
		{"unknown channel", edit("'#/channels/c'", "'#/channels/d'"), `doc.yaml:11:21: operations.o.channel: $ref "#/channels/d": the document has nothing at /channels/d`},
		{"unknown action", edit("action: send", "action: publish"), `doc.yaml:10:13: operations.o.action: expected send or receive, got "publish"`},
		{"missing action", edit("    action: send\n", ""), "doc.yaml:10:5: operations.o: missing action (want send or receive)"},
		{"avro schemaFormat", edit("payload: {$ref: '#/components/schemas/P'}", "payload: {schemaFormat: 'application/vnd.apache.avro;version=1.9.0', schema: {type: record, name: P, fields: []}}"), `doc.yaml:15:31: operations.o.channel.messages.M.payload: schemaFormat "application/vnd.apache.avro;version=1.9.0" is not supported: edkit checks payloads with JSON Schema`},
		{"2.x avro schemaFormat", "asyncapi: 2.6.0\ninfo: {title: t, version: '1'}\nchannels:\n  c:\n    subscribe:\n      message:\n        schemaFormat: application/vnd.apache.avro+json;version=1.9.0\n        payload: {type: record}\n", `doc.yaml:7:23: channels.c.subscribe.message.payload: schemaFormat "application/vnd.apache.avro+json;version=1.9.0" is not supported`},
		{"2.x unknown operation", "asyncapi: 2.6.0\ninfo: {title: t, version: '1'}\nchannels:\n  c:\n    produce:\n      message: {payload: {type: object}}\n", `doc.yaml:5:5: channels.c: unknown key "produce" (want one of $ref, description, servers, subscribe, publish, parameters, bindings, or x-...)`},
		{"2.x without channels", "asyncapi: 2.6.0\ninfo: {title: t, version: '1'}\n", "doc.yaml:1:1: missing channels"},
		{"no operations", v3Head + "channels: {}\noperations: {}\n", "doc.yaml:1:1: the document has no operations"},
		{"not JSON content", edit("    M:\n", "    M:\n      contentType: application/xml\n"), `doc.yaml:15:20: operations.o.channel.messages.M.contentType: content type "application/xml" is not supported`},
		{"bad schema", edit("id: {type: string}", "id: {type: 12}"), "doc.yaml:21:20: operations.o.channel.messages.M.payload: not a usable JSON Schema: at /properties/id/type: value must be one of"},
		{"example breaks schema", edit("    M:\n", "    M:\n      examples: [{payload: {id: 7}}]\n"), "doc.yaml:15:33: operations.o.channel.messages.M.examples[0].payload: breaks the message's payload schema at /id: got number, want string"},
		{"infinite number", edit("id: {type: string}", "id: {maximum: 1.5e999999}"), "doc.yaml:21:23: operations.o.channel.messages.M.payload: not a usable JSON Schema: at /properties/id/maximum: got string, want number"},
		{"duplicate key", edit("    action: send\n", "    action: send\n    action: receive\n"), `doc.yaml:11:5: operations.o: duplicate key "action"`},
		{"alias", edit("      M: {$ref: '#/components/messages/M'}", "      M: &m {$ref: '#/components/messages/M'}\n      N: *m"), "doc.yaml:8:10: operations.o.channel.messages.N: aliases are not supported"},
		{"unknown key", edit("    action: send\n", "    action: send\n    kind: event\n"), `doc.yaml:11:5: operations.o: unknown key "kind" (want one of action, channel,`},
		{"duplicate operationId", "asyncapi: 2.6.0\ninfo: {title: t, version: '1'}\nchannels:\n  a: {publish: {operationId: x}}\n  b: {publish: {operationId: x}}\n", `doc.yaml:5:7: a second operation with id "x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := asyncapi.Parse("doc.yaml", []byte(c.doc))
			if err == nil {
				t.Fatalf("parsed: %+v", d)
			}
			checkSpecErrors(t, err)
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, c.want)
			}
		})
	}
}

// checkSpecErrors fails unless err is one *SpecError or several joined.
func checkSpecErrors(tb testing.TB, err error) {
	tb.Helper()
	errs := []error{err}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		if reflect.TypeOf(e) != reflect.TypeFor[*asyncapi.SpecError]() {
			tb.Fatalf("error %T %v is not a *SpecError", e, e)
		}
	}
}

// TestParseBoundsExpansion: a document whose references fan out to 8^8
// nodes, few levels deep, is refused quickly, without building them.
func TestParseBoundsExpansion(t *testing.T) {
	var b strings.Builder
	b.WriteString(edit("id: {type: string}", "id: {$ref: '#/components/schemas/S0'}"))
	for i := range 8 {
		next := "{$ref: '#/components/schemas/S" + strconv.Itoa(i+1) + "'}"
		b.WriteString("    S" + strconv.Itoa(i) + ": {properties: {")
		for p := range 8 {
			b.WriteString("p" + strconv.Itoa(p) + ": " + next + ", ")
		}
		b.WriteString("}}\n")
	}
	b.WriteString("    S8: {type: string}\n")
	start := time.Now()
	_, err := asyncapi.Parse("doc.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "the document expands to more than 200000 nodes once its $refs are resolved") {
		t.Fatalf("got %v, want the expansion refused", err)
	}
	checkSpecErrors(t, err)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing took %s", d)
	}
}

// TestParseFileErrors: a file that cannot be read is a *SpecError naming
// it.
func TestParseFileErrors(t *testing.T) {
	_, err := asyncapi.ParseFile("testdata/missing.yaml")
	var se *asyncapi.SpecError
	if !errors.As(err, &se) || se.File != "testdata/missing.yaml" || !strings.Contains(err.Error(), "cannot read") {
		t.Fatalf("got %v", err)
	}
}
