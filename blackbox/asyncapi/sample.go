package asyncapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// Limits of one generated payload: a schema may ask for more (minItems:
// 1000000 nested ten deep), and is refused with ErrCannotSample instead.
const (
	maxSampleNodes  = 10_000
	maxSampleString = 4096
	maxSampleItems  = 1000
	maxSampleDepth  = 128
	// sampleTries is how many payloads Sample generates before it gives
	// up: a oneOf whose branches overlap may need several draws (two
	// branches that share half their values: one in 2^32 fails).
	sampleTries = 32
)

// Sample makes a payload for an input of message m, drawing only from r so
// that a seed replays: one of the message's examples when it has any,
// else one generated from its schema — objects with their required
// properties and some optional ones, strings that honour enum, const,
// format (date-time, date, time, email, uuid, uri, hostname, ipv4, ipv6)
// and lengths, numbers that honour bounds and multipleOf, arrays within
// their item counts; a oneOf or anyOf picks a branch, an allOf merges its
// parts. A string with a pattern takes one of the schema's examples or its
// default: edkit does not invent strings for patterns. Whatever Sample
// returns meets m's schema; when it cannot make such a payload its error
// names the message and wraps ErrCannotSample.
func Sample(m Message, r *rand.Rand) ([]byte, error) {
	if m.Schema == nil {
		return nil, fmt.Errorf("message %s: %w: no compiled schema (read it with Parse)", m.Name, ErrCannotSample)
	}
	if len(m.Examples) > 0 {
		ex := m.Examples[r.IntN(len(m.Examples))]
		if err := Validate(m, ex); err != nil {
			return nil, fmt.Errorf("message %s: %w: its example breaks its schema: %w", m.Name, ErrCannotSample, err)
		}
		return bytes.Clone(ex), nil
	}
	doc, err := m.schemaDoc()
	if err != nil {
		return nil, fmt.Errorf("message %s: %w: %w", m.Name, ErrCannotSample, err)
	}
	var last error
	for range sampleTries {
		g := &gen{r: r}
		v, err := g.value(doc, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", m.Name, err)
		}
		data, err := marshal(v)
		if err != nil {
			return nil, fmt.Errorf("message %s: %w: %w", m.Name, ErrCannotSample, err)
		}
		if last = Validate(m, data); last == nil {
			return data, nil
		}
	}
	return nil, fmt.Errorf("message %s: %w: no payload of %d generated met the schema; the last: %w", m.Name, ErrCannotSample, sampleTries, last)
}

// schemaDoc is the decoded payload schema: kept by Parse, decoded here for
// a Message built by hand.
func (m Message) schemaDoc() (any, error) {
	if m.doc != nil {
		return m.doc, nil
	}
	if len(m.SchemaJSON) == 0 {
		return map[string]any{}, nil
	}
	doc, _, err := decode(m.SchemaJSON)
	return doc, err
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// gen generates one value; it reads the schema and never changes it, so
// that goroutines may share a Message.
type gen struct {
	r     *rand.Rand
	nodes int
}

// cannot is an ErrCannotSample at a place in the payload.
func cannot(at []string, format string, args ...any) error {
	where := jsonvalue.Pointer(at...)
	if where == "" {
		where = `""`
	}
	return fmt.Errorf("%w at %s: %s", ErrCannotSample, where, fmt.Sprintf(format, args...))
}

// value generates a value for schema s at place at, depth levels down.
func (g *gen) value(s any, at []string, depth int) (any, error) {
	if g.nodes++; g.nodes > maxSampleNodes || depth > maxSampleDepth {
		return nil, cannot(at, "the payload would exceed %d values or %d levels", maxSampleNodes, maxSampleDepth)
	}
	switch x := s.(type) {
	case bool:
		if !x {
			return nil, cannot(at, "the schema is false: no value is allowed")
		}
		return g.word(3, 8), nil
	case map[string]any:
		flat, err := g.flatten(x, at, 0)
		if err != nil {
			return nil, err
		}
		return g.typed(flat, at, depth)
	}
	return nil, cannot(at, "not a schema: %s", jsonvalue.Render(s))
}

func (g *gen) typed(s map[string]any, at []string, depth int) (any, error) {
	if c, ok := s["const"]; ok {
		return c, nil
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[g.r.IntN(len(e))], nil
	}
	switch t := g.kind(s, depth); t {
	case "object":
		return g.object(s, at, depth)
	case "array":
		return g.array(s, at, depth)
	case "string":
		return g.str(s, at)
	case "integer", "number":
		return g.number(s, t == "integer", at)
	case "boolean":
		return g.r.IntN(2) == 1, nil
	case "null":
		return nil, nil
	default:
		return nil, cannot(at, "unknown type %q", t)
	}
}

// kind picks one of a schema's types, or guesses it from its keywords:
// an object at the top of a payload, a string elsewhere.
func (g *gen) kind(s map[string]any, depth int) string {
	switch t := s["type"].(type) {
	case string:
		return t
	case []any:
		if len(t) > 0 {
			if name, ok := t[g.r.IntN(len(t))].(string); ok {
				return name
			}
		}
	}
	hints := []struct {
		kind string
		keys []string
	}{
		{"object", []string{"properties", "required", "additionalProperties", "minProperties", "maxProperties", "patternProperties"}},
		{"array", []string{"items", "prefixItems", "minItems", "maxItems", "contains", "uniqueItems"}},
		{"string", []string{"minLength", "maxLength", "pattern", "format"}},
		{"number", []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}},
	}
	for _, h := range hints {
		for _, k := range h.keys {
			if _, ok := s[k]; ok {
				return h.kind
			}
		}
	}
	if depth == 0 {
		return "object"
	}
	return "string"
}

// flatten folds a schema's allOf into it and replaces its oneOf and anyOf
// by one branch each, so that what remains describes one kind of value.
func (g *gen) flatten(s map[string]any, at []string, depth int) (map[string]any, error) {
	if g.nodes++; g.nodes > maxSampleNodes || depth > maxSampleDepth {
		return nil, cannot(at, "the schema nests allOf, oneOf and anyOf too deeply")
	}
	out := s
	if all, ok := s["allOf"].([]any); ok {
		out = without(s, "allOf")
		for _, part := range all {
			if err := g.fold(&out, part, at, depth); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := out[k].([]any); ok && len(alts) > 0 {
			pick := alts[g.r.IntN(len(alts))]
			out = without(out, k)
			if err := g.fold(&out, pick, at, depth); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// fold merges subschema part, flattened, into *out.
func (g *gen) fold(out *map[string]any, part any, at []string, depth int) error {
	switch x := part.(type) {
	case bool:
		if !x {
			return cannot(at, "a part of the schema is false: no value is allowed")
		}
	case map[string]any:
		flat, err := g.flatten(x, at, depth+1)
		if err != nil {
			return err
		}
		*out = merge(*out, flat)
	}
	return nil
}

func without(s map[string]any, key string) map[string]any {
	out := maps.Clone(s)
	delete(out, key)
	return out
}

// merge is a simple conjunction of two schemas: properties and required
// add up, types intersect, lower bounds take the larger and upper bounds
// the smaller, and any other keyword of b wins. Sample validates the
// result against the real schema, so simple is enough.
func merge(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	for k, bv := range b {
		av, ok := out[k]
		if !ok {
			out[k] = bv
			continue
		}
		switch k {
		case "properties":
			out[k] = mergeProperties(av, bv)
		case "required":
			out[k] = union(av, bv)
		case "type":
			out[k] = intersectTypes(av, bv)
		case "minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties":
			out[k] = extreme(av, bv, 1)
		case "maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties":
			out[k] = extreme(av, bv, -1)
		default:
			out[k] = bv
		}
	}
	return out
}

func mergeProperties(a, b any) any {
	am, ok1 := a.(map[string]any)
	bm, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		return b
	}
	out := maps.Clone(am)
	for k, v := range bm {
		if prev, ok := out[k]; ok {
			out[k] = map[string]any{"allOf": []any{prev, v}}
		} else {
			out[k] = v
		}
	}
	return out
}

func union(a, b any) any {
	as, _ := a.([]any)
	bs, _ := b.([]any)
	out := slices.Clone(as)
	for _, v := range bs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func intersectTypes(a, b any) any {
	as, bs := typeList(a), typeList(b)
	var out []any
	for _, t := range as {
		switch {
		case slices.Contains(bs, t):
			out = append(out, t)
		case t == "number" && slices.Contains(bs, "integer"), t == "integer" && slices.Contains(bs, "number"):
			out = append(out, "integer")
		}
	}
	if len(out) == 0 {
		return b // no value meets both: validation will say so
	}
	return out
}

func typeList(t any) []string {
	switch x := t.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, v := range x {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// extreme is the larger (sign 1) or smaller (sign -1) of two numbers; b
// when either is not one (a draft-04 boolean exclusiveMinimum).
func extreme(a, b any, sign int) any {
	ar, br := ratOf(a), ratOf(b)
	if ar == nil || br == nil {
		return b
	}
	if ar.Cmp(br)*sign > 0 {
		return a
	}
	return b
}
