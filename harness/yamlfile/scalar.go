package yamlfile

import (
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// The scalar readers below check one node against what a field expects
// and word the problem the same way for every file edkit reads: "what:
// expected …, got …". Each returns a usable zero value with its problem, so
// a parser goes on and reports every problem of a file at once.

// String reads a string scalar (not null).
func String(n *yaml.Node, what string) (string, []Problem) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return "", []Problem{Problemf(n, "%s: expected a string, got %s", what, Describe(n))}
	}
	return n.Value, nil
}

// Strings reads a sequence of strings.
func Strings(n *yaml.Node, what string) ([]string, []Problem) {
	if n.Kind != yaml.SequenceNode {
		return nil, []Problem{Problemf(n, "%s: expected a sequence of strings, got %s", what, Describe(n))}
	}
	out := make([]string, 0, len(n.Content))
	var probs []Problem
	for _, c := range n.Content {
		s, p := String(c, what)
		out, probs = append(out, s), append(probs, p...)
	}
	return out, probs
}

// StringMap reads a mapping of the user's own names to strings.
func StringMap(n *yaml.Node, what string) (map[string]string, []Problem) {
	fields, probs := Keys(n, what, nil)
	m := make(map[string]string, len(fields))
	for _, f := range fields {
		s, p := String(f.V, what+"."+f.Key)
		m[f.Key], probs = s, append(probs, p...)
	}
	return m, probs
}

// Bool reads true or false.
func Bool(n *yaml.Node, what string) (bool, []Problem) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, []Problem{Problemf(n, "%s: expected true or false, got %s", what, Describe(n))}
	}
	return n.Value == "true", nil
}

// Int reads a whole number from lo to hi.
func Int(n *yaml.Node, what string, lo, hi int64) (int64, []Problem) {
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil || v < lo || v > hi {
		return lo, []Problem{Problemf(n, "%s: expected a whole number from %d to %d, got %s", what, lo, hi, Describe(n))}
	}
	return v, nil
}

// Duration reads a positive duration up to most.
func Duration(n *yaml.Node, what string, most time.Duration) (time.Duration, []Problem) {
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d <= 0 || d > most {
		return time.Second, []Problem{Problemf(n, "%s: expected a positive duration up to %s (30s, 5m, 2h), got %s", what, most, Describe(n))}
	}
	return d, nil
}
