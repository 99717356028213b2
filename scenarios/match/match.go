package match

import (
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// Match is one payload expectation read from a scenario file: any of a
// whole-document value (equals), values at JSON pointers (where) and a JSON
// Schema (schema). The zero Match and a nil *Match expect nothing that a
// payload can meet; build one with Parse.
type Match struct {
	equals *value
	where  []clause
	schema *jsonschema.Schema
}

// value is an expected JSON value, decoded for comparing.
type value struct {
	doc any
}

// clause is one where entry: the value expected at a pointer.
type clause struct {
	pointer string
	tokens  []string
	want    value
}

// parts are the keys of an expectation, in the order Check applies them.
var parts = []string{"equals", "where", "schema"}

// Parse reads an expectation from mapping n, named what in problems. It
// needs at least one of equals, where and schema; it returns nil and every
// problem found when there is any.
func Parse(n *yaml.Node, what string) (*Match, []yamlfile.Problem) {
	if n == nil {
		return nil, []yamlfile.Problem{yamlfile.Problemf(n, "%s: missing expectation", what)}
	}
	fields, probs := yamlfile.Keys(n, what, parts)
	if len(fields) == 0 && len(probs) == 0 {
		probs = append(probs, yamlfile.Problemf(n, "%s: expected at least one of %s", what, strings.Join(parts, ", ")))
	}
	m := &Match{}
	for _, f := range fields {
		probs = append(probs, m.parsePart(f, what+"."+f.Key)...)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return m, nil
}

func (m *Match) parsePart(f yamlfile.Field, what string) []yamlfile.Problem {
	var probs []yamlfile.Problem
	switch f.Key {
	case "equals":
		var v value
		v, probs = parseValue(f.V, what)
		m.equals = &v
	case "where":
		m.where, probs = parseWhere(f.V, what)
	case "schema":
		m.schema, probs = compileSchema(f.V, what)
	}
	return probs
}

// parseValue converts the value written at n and decodes it for comparing.
func parseValue(n *yaml.Node, what string) (value, []yamlfile.Problem) {
	data, probs := yamlfile.JSON(n, what)
	if len(probs) > 0 {
		return value{}, probs
	}
	doc, err := decode(data)
	if err != nil {
		return value{}, []yamlfile.Problem{yamlfile.Problemf(n, "%s: %v", what, err)}
	}
	return value{doc: doc}, nil
}

// parseWhere reads a mapping of JSON pointers to expected values. An empty
// one is a problem: it would check nothing, and a check that cannot fail
// hides a mistake.
func parseWhere(n *yaml.Node, what string) ([]clause, []yamlfile.Problem) {
	fields, probs := yamlfile.Keys(n, what, nil)
	if len(fields) == 0 && len(probs) == 0 {
		return nil, []yamlfile.Problem{yamlfile.Problemf(n, "%s: expected at least one JSON pointer", what)}
	}
	var clauses []clause
	for _, f := range fields {
		tokens, err := jsonvalue.ParsePointer(f.Key)
		if err != nil {
			probs = append(probs, yamlfile.Problemf(f.K, "%s: bad pointer %q: %v", what, jsonvalue.Cut(f.Key, jsonvalue.MaxShown), err))
			continue
		}
		v, vprobs := parseValue(f.V, fmt.Sprintf("%s[%q]", what, jsonvalue.Cut(f.Key, jsonvalue.MaxShown)))
		probs = append(probs, vprobs...)
		clauses = append(clauses, clause{pointer: f.Key, tokens: tokens, want: v})
	}
	return clauses, probs
}

// Check reports nil when payload, a JSON document, meets every part of m,
// else an error naming the first difference: equals and where give the
// JSON pointer of the place and both values, schema the library's first
// leaf error and its place. Parts are checked in the order equals, where
// (in file order), schema. A payload that is not one valid JSON document
// is an error; so is a nil or empty Match, which expects nothing a
// scenario could mean.
func (m *Match) Check(payload []byte) error {
	if m == nil || (m.equals == nil && len(m.where) == 0 && m.schema == nil) {
		return errors.New("match: empty expectation")
	}
	doc, err := decode(payload)
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if m.equals != nil {
		var d differ
		if msg := d.diff(doc, m.equals.doc); msg != "" {
			return errors.New("equals: " + msg)
		}
	}
	for _, c := range m.where {
		if err := c.check(doc); err != nil {
			return err
		}
	}
	if m.schema != nil {
		if err := validate(m.schema, doc); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
	}
	return nil
}

func (c clause) check(doc any) error {
	got, err := resolve(doc, c.tokens)
	if err != nil {
		return fmt.Errorf("where %s: does not resolve: %w", showWritten(c.pointer), err)
	}
	d := differ{path: append([]string(nil), c.tokens...)}
	if msg := d.diff(got, c.want.doc); msg != "" {
		return errors.New("where: " + msg)
	}
	return nil
}

// String renders the expectation briefly for reports, for example
// `where /status = "confirmed"; schema`.
func (m *Match) String() string {
	if m == nil {
		return "nothing"
	}
	var out []string
	if m.equals != nil {
		out = append(out, "equals "+jsonvalue.Render(m.equals.doc))
	}
	if len(m.where) > 0 {
		cl := make([]string, len(m.where))
		for i, c := range m.where {
			cl[i] = showWritten(c.pointer) + " = " + jsonvalue.Render(c.want.doc)
		}
		out = append(out, "where "+strings.Join(cl, ", "))
	}
	if m.schema != nil {
		out = append(out, "schema")
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, "; ")
}

// showWritten prints a pointer as the scenario wrote it; the empty pointer,
// the whole document, would otherwise print as nothing.
func showWritten(pointer string) string {
	if pointer == "" {
		return `""`
	}
	return showText(pointer)
}
