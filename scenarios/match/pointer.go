package match

import (
	"fmt"
	"strconv"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// resolve finds the value at tokens in doc, or says why there is none.
func resolve(doc any, tokens []string) (any, error) {
	v := doc
	for i, t := range tokens {
		next, err := step(v, t)
		if err != nil {
			return nil, fmt.Errorf("%s %w", place(tokens[:i]), err)
		}
		v = next
	}
	return v, nil
}

// step goes down one token from v.
func step(v any, t string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		next, ok := x[t]
		if !ok {
			return nil, fmt.Errorf("has no member %s", strconv.Quote(jsonvalue.Prefix(t, jsonvalue.MaxShown)))
		}
		return next, nil
	case []any:
		i, ok := arrayIndex(t)
		if !ok || i >= len(x) {
			return nil, fmt.Errorf("has no element %s (length %d)", strconv.Quote(jsonvalue.Prefix(t, jsonvalue.MaxShown)), len(x))
		}
		return x[i], nil
	}
	return nil, fmt.Errorf("is %s, not an object or array", jsonvalue.Kind(v))
}

// arrayIndex reads an RFC 6901 array index: decimal digits with no
// leading zero. "-", the element after the last, never resolves.
func arrayIndex(t string) (int, bool) {
	if t == "" || (len(t) > 1 && t[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(t)
	return i, err == nil
}

// place names the value at tokens for a message.
func place(tokens []string) string {
	if len(tokens) == 0 {
		return "the document"
	}
	return "the value at " + showPointer(tokens)
}
