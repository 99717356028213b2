package asyncapi

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
	"github.com/edkit-dev/edkit/harness/yamlfile"
)

var (
	v2MessageKeys   = []string{"messageId", "headers", "payload", "correlationId", "schemaFormat", "contentType", "name", "title", "summary", "description", "tags", "externalDocs", "bindings", "examples", "traits"}
	v3MessageKeys   = []string{"headers", "payload", "correlationId", "contentType", "name", "title", "summary", "description", "tags", "externalDocs", "bindings", "examples", "traits"}
	exampleKeys     = []string{"headers", "payload", "name", "summary"}
	multiFormatKeys = []string{"schemaFormat", "schema"}
)

// The $schema a payload schema is compiled with when it names none: the
// AsyncAPI schema format is a superset of JSON Schema draft 7.
const draft7 = "http://json-schema.org/draft-07/schema#"

// drafts are the versions of application/schema+json a payload may name.
var drafts = map[string]string{
	"":         draft7,
	"draft-04": "http://json-schema.org/draft-04/schema#",
	"draft-06": "http://json-schema.org/draft-06/schema#",
	"draft-07": draft7,
	"2019-09":  "https://json-schema.org/draft/2019-09/schema",
	"2020-12":  "https://json-schema.org/draft/2020-12/schema",
}

// schemaURL names a payload schema inside its compiler; no loader serves
// its scheme.
const schemaURL = "asyncapi:///payload.schema.json"

// message reads message object n (dereferenced), called name unless it
// names itself.
func (p *parser) message(n *yaml.Node, name, what string, v3 bool) Message {
	known := v2MessageKeys
	if v3 {
		known = v3MessageKeys
	}
	o := p.object(n, what, known)
	m := Message{Name: name}
	if id := o.get("messageId"); id != nil {
		m.Name = p.str(id, what+".messageId")
	}
	if nn := o.get("name"); nn != nil {
		m.Name = p.str(nn, what+".name")
	}
	m.ContentType = p.messageContentType(o.get("contentType"), what)
	payload, formatNode := o.get("payload"), o.get("schemaFormat")
	if v3 {
		var ok bool
		if payload, formatNode, ok = p.multiFormat(payload, what+".payload"); !ok {
			return m
		}
	}
	format := ""
	if formatNode != nil {
		format = p.str(formatNode, what+".schemaFormat")
	}
	m.Schema, m.SchemaJSON, m.doc = p.payload(payload, format, formatNode, what+".payload")
	if m.Schema != nil {
		m.Examples = p.examples(o.get("examples"), m, what)
	}
	return m
}

// multiFormat splits a 3.0 payload into its schema and schemaFormat when
// it is a Multi Format Schema Object; ok is false after a problem.
func (p *parser) multiFormat(n *yaml.Node, what string) (schema, format *yaml.Node, ok bool) {
	if n == nil {
		return nil, nil, true
	}
	t, _ := p.deref(n, what)
	if t == nil {
		return nil, nil, false
	}
	if child(t, "schemaFormat") == nil {
		return n, nil, true
	}
	o := p.object(t, what, multiFormatKeys)
	if o.get("schema") == nil {
		p.problem(t, "%s: missing schema (a payload with schemaFormat holds its schema in schema)", what)
		return nil, nil, false
	}
	return o.get("schema"), o.get("schemaFormat"), true
}

// messageContentType is a message's content type, else the document's
// default, else JSON; a type that is not JSON is a problem.
func (p *parser) messageContentType(n *yaml.Node, what string) string {
	ct, at, w := p.contentType, p.contentTypeNode, "defaultContentType"
	if n != nil {
		ct, at, w = p.str(n, what+".contentType"), n, what+".contentType"
	}
	if at == nil {
		return "application/json"
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && mt != "text/json" && !strings.HasSuffix(mt, "+json")) {
		p.problem(at, "%s: content type %q is not supported: edkit generates and checks JSON payloads (application/json, or a type ending in +json)", w, ct)
	}
	return ct
}

// payload resolves, converts and compiles a payload schema; n nil is a
// message without one, which any JSON payload meets.
func (p *parser) payload(n *yaml.Node, format string, formatNode *yaml.Node, what string) (*jsonschema.Schema, []byte, any) {
	draft, ok := draftOf(format)
	if !ok {
		p.problem(formatNode, "%s: schemaFormat %q is not supported: edkit checks payloads with JSON Schema (the AsyncAPI schema format, or application/schema+json;version=draft-04 to 2020-12), not Avro, Protobuf, RAML or OpenAPI schemas", what, format)
		return nil, nil, nil
	}
	data, in := []byte("{}"), n
	if n != nil {
		if in = p.inline(n, what, nil, 0); in == nil {
			return nil, nil, nil
		}
		var probs []yamlfile.Problem
		if data, probs = yamlfile.JSON(in, what); len(probs) > 0 {
			p.add(probs...)
			return nil, nil, nil
		}
	}
	doc, data, err := withDraft(data, draft)
	if err != nil {
		p.problem(n, "%s: %v", what, err)
		return nil, nil, nil
	}
	s, err := jsonvalue.CompileSchema(schemaURL, doc, errRefused)
	if err != nil {
		where, msg := compileProblem(err)
		p.problem(nodeAt(in, where), "%s: not a usable JSON Schema: %s", what, msg)
		return nil, nil, nil
	}
	return s, data, doc
}

// draftOf is the $schema for a schemaFormat; false for formats edkit does
// not read.
func draftOf(format string) (string, bool) {
	if format == "" {
		return draft7, true
	}
	mt, params, err := mime.ParseMediaType(format)
	if err != nil {
		return "", false
	}
	switch mt {
	case "application/vnd.aai.asyncapi", "application/vnd.aai.asyncapi+json", "application/vnd.aai.asyncapi+yaml":
		return draft7, true
	case "application/schema+json", "application/schema+yaml":
		d, ok := drafts[params["version"]]
		return d, ok
	}
	return "", false
}

// withDraft decodes a schema and, when it names no $schema, makes it name
// draft: in the decoded schema and, as its first member, in the JSON.
func withDraft(data []byte, draft string) (any, []byte, error) {
	doc, where, err := decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("at %s: %w", jsonvalue.Pointer(where...), err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return doc, data, nil
	}
	if _, named := m["$schema"]; named {
		return doc, data, nil
	}
	m["$schema"] = draft
	head := fmt.Sprintf(`{"$schema":%q`, draft)
	if len(m) == 1 {
		return doc, []byte(head + "}"), nil
	}
	return doc, append([]byte(head+","), data[1:]...), nil
}

// decode reads JSON as the schema library does (numbers as json.Number),
// refusing numbers too large to check cheaply, at where.
func decode(data []byte) (doc any, where []string, err error) {
	doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("not JSON: %w", err)
	}
	if where, msg := unwieldy(doc, nil); msg != "" {
		return nil, where, errors.New(msg)
	}
	return doc, nil, nil
}

// compileProblem words why a schema does not compile, and where in it.
func compileProblem(err error) ([]string, string) {
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
		where, msg := jsonvalue.Leaf(ve)
		return where, fmt.Sprintf("at %s: %s", jsonvalue.Pointer(where...), oneLine(msg))
	}
	return nil, oneLine(err.Error())
}

func oneLine(s string) string {
	return jsonvalue.Cut(strings.ReplaceAll(s, "\n", "; "), 300)
}

// nodeAt is the deepest node on the way to tokens from n (n itself when
// nil), for a problem's position.
func nodeAt(n *yaml.Node, tokens []string) *yaml.Node {
	for _, t := range tokens {
		if n == nil {
			return nil
		}
		next := child(n, t)
		if next == nil {
			break
		}
		n = next
	}
	return n
}

// examples reads a message's examples: each payload must meet the
// message's schema, since Sample sends them as they are.
func (p *parser) examples(n *yaml.Node, m Message, what string) [][]byte {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.problem(n, "%s.examples: expected a sequence of examples ({payload: ...}), got %s", what, yamlfile.Describe(n))
		return nil
	}
	var out [][]byte
	for i, item := range n.Content {
		w := fmt.Sprintf("%s.examples[%d]", what, i)
		t, _ := p.deref(item, w)
		if t == nil {
			continue
		}
		pn := p.object(t, w, exampleKeys).get("payload")
		if pn == nil {
			continue // an example of headers only
		}
		data, probs := yamlfile.JSON(pn, w+".payload")
		if len(probs) > 0 {
			p.add(probs...)
			continue
		}
		var pe *PayloadError
		if err := Validate(m, data); errors.As(err, &pe) {
			tokens, _ := jsonvalue.ParsePointer(pe.Pointer)
			p.problem(nodeAt(pn, tokens), "%s.payload: breaks the message's payload schema at %s: %s", w, pe.Pointer, pe.Reason)
			continue
		}
		out = append(out, data)
	}
	return out
}
