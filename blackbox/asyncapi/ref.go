package asyncapi

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// maxHops bounds a chain of references to references.
const maxHops = 32

// child is the value of key in mapping n, or item key of sequence n; nil
// when there is none.
func child(n *yaml.Node, key string) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i]
		}
	}
	return nil
}

// refOf is the $ref string node of a Reference Object, nil when n is not
// one. A "$ref" whose value is not a string is not a reference: a schema
// may name a property "$ref".
func refOf(n *yaml.Node) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	if r := child(n, "$ref"); r != nil && r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str" {
		return r
	}
	return nil
}

// deref follows n through Reference Objects to what they point to, and
// returns it with the first reference followed ("" when n is not one). A
// reference that leads nowhere, outside the document or round in a circle
// is a problem, and the result nil.
func (p *parser) deref(n *yaml.Node, what string) (*yaml.Node, string) {
	first := ""
	var seen []string
	for r := refOf(n); r != nil; r = refOf(n) {
		if first == "" {
			first = r.Value
		}
		if slices.Contains(seen, r.Value) || len(seen) >= maxHops {
			p.problem(r, "%s: $ref cycle: %s → %s", what, strings.Join(seen, " → "), r.Value)
			return nil, first
		}
		seen = append(seen, r.Value)
		if n = p.lookup(r, what); n == nil {
			return nil, first
		}
	}
	if n != nil && n.Kind == yaml.AliasNode {
		p.problem(n, "%s: aliases are not supported", what)
		return nil, first
	}
	return n, first
}

// lookup finds what reference r points to in the document.
func (p *parser) lookup(r *yaml.Node, what string) *yaml.Node {
	frag, ok := strings.CutPrefix(r.Value, "#")
	if !ok {
		p.problem(r, "%s: $ref %q refused: only references inside the document (#/components/...) are supported, not to other files or URLs", what, r.Value)
		return nil
	}
	if u, err := url.PathUnescape(frag); err == nil {
		frag = u
	}
	tokens, err := jsonvalue.ParsePointer(frag)
	if err != nil {
		p.problem(r, "%s: $ref %q: %v", what, r.Value, err)
		return nil
	}
	n := p.root
	for i, t := range tokens {
		if n = child(n, t); n == nil {
			p.problem(r, "%s: $ref %q: the document has nothing at %s", what, r.Value, jsonvalue.Pointer(tokens[:i+1]...))
			return nil
		}
		if n.Kind == yaml.AliasNode {
			p.problem(r, "%s: $ref %q leads to an alias: aliases are not supported", what, r.Value)
			return nil
		}
	}
	return n
}

// refName is the last token of a local reference: the key of what it
// names ("#/components/messages/Credit" is "Credit").
func refName(ref string) string {
	frag := strings.TrimPrefix(ref, "#")
	if u, err := url.PathUnescape(frag); err == nil {
		frag = u
	}
	tokens, err := jsonvalue.ParsePointer(frag)
	if err != nil || len(tokens) == 0 {
		return ""
	}
	return tokens[len(tokens)-1]
}

// dataKeys hold JSON values, not schemas: a {"$ref": ...} in an enum or an
// example is data and stays as written. nameKeys hold a mapping of the
// user's names to schemas: a property may be called "enum" or "$ref".
var (
	dataKeys = map[string]bool{"const": true, "enum": true, "default": true, "examples": true, "example": true}
	nameKeys = map[string]bool{"properties": true, "patternProperties": true, "definitions": true, "$defs": true, "dependentSchemas": true, "dependencies": true}
)

// inline copies schema n with every $ref replaced by a copy of what it
// points to, recursively. As in JSON Schema draft 7 (the AsyncAPI schema
// format's base), a $ref's sibling keywords are ignored. A recursive
// schema cannot be inlined and is refused as a cycle; stack holds the
// references being expanded. Below the top, $id and $anchor are dropped
// (see idKeys). The copy shares scalar nodes with the
// document, so its problems keep their lines. Every node copied counts
// against the document's budget; nil means a problem was recorded.
func (p *parser) inline(n *yaml.Node, what string, stack []string, depth int) *yaml.Node {
	if !p.spend(n) {
		return nil
	}
	if depth > yamlfile.MaxDepth {
		p.problem(n, "%s: nested deeper than %d levels once $refs are resolved", what, yamlfile.MaxDepth)
		return nil
	}
	if r := refOf(n); r != nil {
		return p.inlineRef(r, what, stack, depth)
	}
	switch n.Kind {
	case yaml.MappingNode:
		return p.inlineMapping(n, what, stack, depth, false)
	case yaml.SequenceNode:
		c := *n
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, item := range n.Content {
			if c.Content[i] = p.inline(item, what, stack, depth+1); c.Content[i] == nil {
				return nil
			}
		}
		return &c
	}
	return n // scalars, and aliases that yamlfile.JSON refuses
}

func (p *parser) inlineRef(r *yaml.Node, what string, stack []string, depth int) *yaml.Node {
	for i, s := range stack {
		if s == r.Value {
			chain := append(append([]string(nil), stack[i:]...), r.Value)
			p.problem(r, "%s: $ref cycle: %s (recursive schemas are not supported)", what, strings.Join(chain, " → "))
			return nil
		}
	}
	target := p.lookup(r, what)
	if target == nil {
		return nil
	}
	return p.inline(target, what, append(stack, r.Value), depth+1)
}

// idKeys name a schema resource. A component inlined twice would carry its
// $id twice, which the compiler refuses, and every reference it served is
// resolved already: below the payload's top, they are left out.
var idKeys = map[string]bool{"$id": true, "$anchor": true, "$dynamicAnchor": true}

// inlineMapping copies a schema's keywords (names false) or a mapping of
// names to schemas (names true).
func (p *parser) inlineMapping(n *yaml.Node, what string, stack []string, depth int, names bool) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var out *yaml.Node
		switch {
		case !names && depth > 0 && idKeys[k.Value]:
			continue
		case !names && dataKeys[k.Value]:
			out = v
		case !names && nameKeys[k.Value] && v.Kind == yaml.MappingNode:
			if p.spend(v) {
				out = p.inlineMapping(v, what, stack, depth+1, true)
			}
		default:
			out = p.inline(v, what, stack, depth+1)
		}
		if out == nil {
			return nil
		}
		c.Content = append(c.Content, k, out)
	}
	return &c
}

// spend takes one node from the document's budget.
func (p *parser) spend(n *yaml.Node) bool {
	if p.budget--; p.budget >= 0 {
		return true
	}
	if !p.exhausted {
		p.exhausted = true
		p.problem(n, "the document expands to more than %d nodes once its $refs are resolved", maxNodes)
	}
	return false
}
