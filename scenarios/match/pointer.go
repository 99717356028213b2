package match

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// parsePointer reads an RFC 6901 JSON pointer into its reference tokens:
// "" is the whole document, and every other pointer starts with "/", with
// "~1" for "/" and "~0" for "~" in a token.
func parsePointer(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	rest, ok := strings.CutPrefix(s, "/")
	if !ok {
		return nil, errors.New(`a JSON pointer is "" or starts with "/"`)
	}
	tokens := strings.Split(rest, "/")
	for i, t := range tokens {
		u, err := unescapeToken(t)
		if err != nil {
			return nil, err
		}
		tokens[i] = u
	}
	return tokens, nil
}

func unescapeToken(t string) (string, error) {
	if !strings.Contains(t, "~") {
		return t, nil
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] != '~' {
			b.WriteByte(t[i])
			continue
		}
		if i+1 == len(t) || (t[i+1] != '0' && t[i+1] != '1') {
			return "", errors.New(`"~" in a JSON pointer must be followed by 0 or 1`)
		}
		b.WriteByte("~/"[t[i+1]-'0'])
		i++
	}
	return b.String(), nil
}

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
			return nil, fmt.Errorf("has no member %s", strconv.Quote(prefix(t, maxShown)))
		}
		return next, nil
	case []any:
		i, ok := arrayIndex(t)
		if !ok || i >= len(x) {
			return nil, fmt.Errorf("has no element %s (length %d)", strconv.Quote(prefix(t, maxShown)), len(x))
		}
		return x[i], nil
	}
	return nil, fmt.Errorf("is %s, not an object or array", kindOf(v))
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

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "a number"
}
