package yamlfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// MaxDepth bounds how deeply mappings and sequences nest in a value written
// in an input file (a scenario's payload, a schema): far above any hand-written expectation, and low
// enough that a hostile or generated file cannot exhaust the stack.
const MaxDepth = 64

// JSON converts a YAML node (a value written in an input file: a
// scenario's payload, a JSON Schema written in YAML) to JSON bytes, named
// what in problems.
//
// Scalars follow their resolved tag: !!null is null; !!bool a boolean;
// !!int an integer within int64; !!float a finite number; !!str and any
// other tag (timestamps, binary, custom tags) the scalar's text as a
// string. A plain integer too large for int64, which YAML resolves as a
// float, is a problem rather than a silently rounded number. Mappings need
// string keys, written once; aliases are refused anywhere, so that a value
// means what its text says; nesting deeper than MaxDepth is a problem.
//
// The output is compact JSON with object members in file order. On any
// problem JSON returns no bytes and every problem found, in file order; a
// nil node is one problem at a zero node.
func JSON(n *yaml.Node, what string) ([]byte, []Problem) {
	c := &converter{}
	c.value(n, what, 0)
	if len(c.probs) > 0 {
		return nil, c.probs
	}
	return c.out.Bytes(), nil
}

// converter writes JSON while it walks a node, collecting problems so that
// one pass reports all of them.
type converter struct {
	out   bytes.Buffer
	probs []Problem
}

func (c *converter) fail(n *yaml.Node, format string, args ...any) {
	c.probs = append(c.probs, Problemf(n, format, args...))
}

// Problemf builds a Problem at n; a nil node is replaced by a zero one so
// that callers reading Node.Line never dereference nil.
func Problemf(n *yaml.Node, format string, args ...any) Problem {
	if n == nil {
		n = &yaml.Node{}
	}
	return Problem{Node: n, Msg: fmt.Sprintf(format, args...)}
}

func (c *converter) value(n *yaml.Node, what string, depth int) {
	if n == nil {
		c.fail(n, "%s: missing value", what)
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			c.fail(n, "%s: expected one value, got %d", what, len(n.Content))
			return
		}
		c.value(n.Content[0], what, depth)
	case yaml.ScalarNode:
		c.scalar(n, what)
	case yaml.SequenceNode:
		c.sequence(n, what, depth+1)
	case yaml.MappingNode:
		c.mapping(n, what, depth+1)
	case yaml.AliasNode:
		c.fail(n, "%s: aliases are not supported", what)
	default:
		c.fail(n, "%s: expected a value, got %s", what, Describe(n))
	}
}

func (c *converter) sequence(n *yaml.Node, what string, depth int) {
	if depth > MaxDepth {
		c.fail(n, "%s: nested deeper than %d levels", what, MaxDepth)
		return
	}
	c.out.WriteByte('[')
	for i, item := range n.Content {
		if i > 0 {
			c.out.WriteByte(',')
		}
		c.value(item, fmt.Sprintf("%s[%d]", what, i), depth)
	}
	c.out.WriteByte(']')
}

func (c *converter) mapping(n *yaml.Node, what string, depth int) {
	if depth > MaxDepth {
		c.fail(n, "%s: nested deeper than %d levels", what, MaxDepth)
		return
	}
	fields, probs := Keys(n, what, nil)
	c.probs = append(c.probs, probs...)
	c.out.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			c.out.WriteByte(',')
		}
		c.str(f.Key)
		c.out.WriteByte(':')
		c.value(f.V, what+"."+f.Key, depth)
	}
	c.out.WriteByte('}')
}

func (c *converter) scalar(n *yaml.Node, what string) {
	switch n.ShortTag() {
	case "!!null":
		c.out.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			c.fail(n, "%s: invalid boolean %q", what, n.Value)
			return
		}
		c.out.WriteString(strconv.FormatBool(b))
	case "!!int":
		c.integer(n, what)
	case "!!float":
		c.float(n, what)
	default:
		c.str(n.Value)
	}
}

func (c *converter) integer(n *yaml.Node, what string) {
	var i int64
	if err := n.Decode(&i); err != nil {
		if integerLike.MatchString(n.Value) {
			c.fail(n, "%s: integer %s is out of range (want within 64 bits)", what, short(n.Value))
		} else {
			c.fail(n, "%s: invalid integer %q", what, short(n.Value))
		}
		return
	}
	c.out.WriteString(strconv.FormatInt(i, 10))
}

// decimalInteger is how an integer is written; YAML resolves one that does
// not fit in 64 bits as a float, which would round it without a word.
// integerLike also admits the hexadecimal, octal and binary forms.
var (
	decimalInteger = regexp.MustCompile(`^[-+]?[0-9]+$`)
	integerLike    = regexp.MustCompile(`^[-+]?(0[xXoObB])?[0-9a-fA-F_]+$`)
)

func (c *converter) float(n *yaml.Node, what string) {
	if n.Style&yaml.TaggedStyle == 0 && decimalInteger.MatchString(n.Value) {
		c.fail(n, "%s: integer %s is out of range (want within 64 bits)", what, short(n.Value))
		return
	}
	var f float64
	if err := n.Decode(&f); err != nil {
		c.fail(n, "%s: invalid number %q", what, short(n.Value))
		return
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		c.fail(n, "%s: number %s has no JSON form (want a finite number)", what, short(n.Value))
		return
	}
	b, err := json.Marshal(f)
	if err != nil {
		c.fail(n, "%s: number %s: %v", what, short(n.Value), err)
		return
	}
	c.out.Write(b)
}

// str writes s as a JSON string, leaving <, > and & as they are written:
// the output is read by people and compared, never embedded in HTML.
func (c *converter) str(s string) {
	enc := json.NewEncoder(&c.out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	c.out.Truncate(c.out.Len() - 1)
}

// short cuts a value from the file for a problem message.
func short(s string) string {
	return jsonvalue.Cut(s, jsonvalue.MaxShown)
}
