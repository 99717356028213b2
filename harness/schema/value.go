package schema

import (
	"encoding/json"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// quote prints a string from a schema file (a member name, a pattern) for
// a message: quoted, with control characters and invisible runes escaped,
// and cut when long.
func quote(s string) string {
	if len(s) > jsonvalue.MaxShown {
		return strconv.Quote(jsonvalue.Prefix(s, jsonvalue.MaxShown)) + "…"
	}
	return strconv.Quote(s)
}

// canonical writes v so that two JSON values are equal exactly when their
// canonical forms are: members sorted, numbers by value (1.0 is 1).
func canonical(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		if plainInteger(string(x)) {
			b.WriteString(string(x)) // what RatString would write, without its cost
		} else if r, ok := rat(x); ok {
			b.WriteString(r.RatString())
		} else {
			b.WriteString(string(x))
		}
	case string:
		b.WriteString(strconv.Quote(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			writeCanonical(b, x[k])
		}
		b.WriteByte('}')
	default:
		b.WriteString("?")
	}
}

// equal reports whether two JSON values are equal as JSON Schema compares
// them (numbers by value).
func equal(a, b any) bool { return canonical(a) == canonical(b) }

// plainInteger reports an integer written in its shortest form ("12",
// "-3"; not "-0", "1.0" or "1e2"), whose canonical form is its text.
func plainInteger(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > 18 || (digits[0] == '0' && (len(digits) > 1 || s[0] == '-')) {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// rat reads a JSON number exactly. Parse refuses numbers whose exponent
// would make this expensive.
func rat(v any) (*big.Rat, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case int:
		s = strconv.Itoa(x)
	default:
		return nil, false
	}
	if jsonvalue.TooLarge(s) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// splitPointer splits an RFC 6901 pointer into its tokens; ok is false
// for text that is not a pointer. Unlike jsonvalue.ParsePointer it keeps a
// "~" not followed by 0 or 1 as written rather than refusing the pointer:
// it reads $refs and the library's messages, where a token taken as
// written may still find the place.
func splitPointer(p string) ([]string, bool) {
	if p == "" {
		return nil, true
	}
	if p[0] != '/' {
		return nil, false
	}
	parts := strings.Split(p[1:], "/")
	for i, t := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return parts, true
}

// ShowPointer prints a pointer for a person, as the fragment of a URI
// ("#/properties/id"), quoted with strconv.Quote when it holds a rune that
// must be escaped: its member names come from a file.
func ShowPointer(p string) string {
	s := "#" + p
	if q := strconv.Quote(s); q[1:len(q)-1] != s {
		return q
	}
	return s
}
