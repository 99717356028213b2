package jsonvalue

import (
	"errors"
	"strings"
)

// Pointer writes tokens as an RFC 6901 JSON pointer: each token after a
// "/", with "~" written "~0" and "/" written "~1". No tokens is "", the
// whole document.
func Pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// ParsePointer reads an RFC 6901 JSON pointer into its reference tokens:
// "" is the whole document (no tokens), and every other pointer starts
// with "/", with "~1" for "/" and "~0" for "~" in a token. Any other "~"
// is an error, as is a pointer that does not start with "/".
func ParsePointer(s string) ([]string, error) {
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
