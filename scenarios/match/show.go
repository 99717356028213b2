package match

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxShown bounds a value printed in a message: enough to recognize it,
// short enough that a megabyte payload leaves a readable report.
const maxShown = 80

// render prints a decoded JSON value briefly for a message. Strings are
// quoted with strconv.Quote, so that control characters and invisible
// runes from a payload are escaped instead of reaching a terminal; the
// walk stops once enough is written, so a huge value costs little.
func render(v any) string {
	var b strings.Builder
	writeValue(&b, v)
	return cut(b.String(), maxShown)
}

func writeValue(b *strings.Builder, v any) {
	if b.Len() > maxShown {
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		b.WriteString(prefix(string(x), maxShown+1))
	case string:
		writeString(b, x)
	case []any:
		writeArray(b, x)
	case map[string]any:
		writeObject(b, x)
	default:
		b.WriteString("?")
	}
}

// writeString quotes at most a little more than can be shown, so that the
// cut still marks a long string as cut.
func writeString(b *strings.Builder, s string) {
	b.WriteString(strconv.Quote(prefix(s, maxShown+1)))
}

func writeArray(b *strings.Builder, a []any) {
	b.WriteByte('[')
	for i, v := range a {
		if b.Len() > maxShown {
			return
		}
		if i > 0 {
			b.WriteByte(',')
		}
		writeValue(b, v)
	}
	b.WriteByte(']')
}

func writeObject(b *strings.Builder, o map[string]any) {
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(o)) {
		if b.Len() > maxShown {
			return
		}
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, k)
		b.WriteByte(':')
		writeValue(b, o[k])
	}
	b.WriteByte('}')
}

// prefix returns at most n bytes of s, ending on a rune boundary.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// cut shortens s to about n bytes, marking the cut with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return prefix(s, n) + "…"
}

// pointerText writes tokens as an RFC 6901 pointer.
func pointerText(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// showPointer prints a pointer for a message. Its tokens are member names
// from the payload, so it is escaped like any payload string when it holds
// a rune that is not printable, and cut when long.
func showPointer(tokens []string) string {
	return showText(pointerText(tokens))
}

// showText prints text that may come from a payload or a library message:
// as it is when every rune is printable, else with each other rune escaped;
// cut when long.
func showText(s string) string {
	s = prefix(s, 4*maxShown)
	if strings.IndexFunc(s, notPrintable) < 0 && utf8.ValidString(s) {
		return cut(s, 2*maxShown)
	}
	q := strconv.Quote(s)
	return cut(q[1:len(q)-1], 2*maxShown)
}

func notPrintable(r rune) bool {
	return !strconv.IsPrint(r)
}
