// Package yamlfile is how edkit reads its YAML inputs — environment specs,
// scenario files, and the workload and experiment files to come — so that
// each gets the same guarantees: the file is read through a size limit (a
// spec named /dev/zero is an error, not an exhausted machine), it is
// parsed on yaml.Node so that every problem has a line and a column, and
// each mapping is checked by one walk (Keys) that rejects unknown, repeated
// and non-string keys and aliases. yaml.v3 checks repeated keys only when it
// decodes into Go values, never into a yaml.Node: without Keys a repeated
// key silently takes the last value.
package yamlfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxSize bounds an input file: far above any hand-written spec, far below
// what would hurt to parse.
const MaxSize = 4 << 20

// ErrTooLarge is a file above the limit.
var ErrTooLarge = errors.New("yamlfile: file too large")

// ReadFile reads path, refusing more than limit bytes (MaxSize when limit
// is 0 or less) without reading them: a FIFO or device is read only up to
// the limit.
func ReadFile(path string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = MaxSize
	}
	f, err := os.Open(path) //nolint:gosec // reading the file the caller names is the point
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes: %w", limit, ErrTooLarge)
	}
	return data, nil
}

// Problem is one problem at a node of a file.
type Problem struct {
	Node *yaml.Node
	Msg  string
}

// Field is one accepted key of a mapping and its value.
type Field struct {
	Key  string
	K, V *yaml.Node
}

// Keys checks the keys of mapping n, named what in messages, against
// known (nil accepts any name, for a mapping of the user's own names):
// every key must be a string, known, and not repeated, and no value may be
// an alias. It returns the accepted fields and the problems, each in file
// order; a non-mapping is one problem.
func Keys(n *yaml.Node, what string, known []string) ([]Field, []Problem) {
	if n.Kind != yaml.MappingNode {
		return nil, []Problem{{n, fmt.Sprintf("%s: expected a mapping, got %s", what, Describe(n))}}
	}
	var fields []Field
	var probs []Problem
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str":
			probs = append(probs, Problem{k, fmt.Sprintf("%s: expected a field name, got %s", what, Describe(k))})
			continue
		case !isKnown(k.Value, known):
			probs = append(probs, Problem{k, fmt.Sprintf("%s: unknown key %q (want one of %s)", what, k.Value, list(known))})
			continue
		case seen[k.Value]:
			probs = append(probs, Problem{k, fmt.Sprintf("%s: duplicate key %q", what, k.Value)})
			continue
		}
		seen[k.Value] = true
		if v.Kind == yaml.AliasNode {
			probs = append(probs, Problem{v, fmt.Sprintf("%s.%s: aliases are not supported", what, k.Value)})
			continue
		}
		fields = append(fields, Field{k.Value, k, v})
	}
	return fields, probs
}

func isKnown(k string, known []string) bool {
	if known == nil {
		return true
	}
	for _, w := range known {
		if k == w {
			return true
		}
	}
	return false
}

func list(known []string) string {
	s := append([]string(nil), known...)
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// Describe names a node for "expected X, got Y" messages, quoting (and
// cutting) a scalar's value.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!int":
			return "integer " + v
		case "!!float":
			return "number " + v
		case "!!bool":
			return "boolean " + v
		case "!!str":
			return strconv.Quote(v)
		}
		return fmt.Sprintf("%s %q", n.ShortTag(), v)
	}
	return "nothing"
}
