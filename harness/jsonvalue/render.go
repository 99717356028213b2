package jsonvalue

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxShown bounds a value printed in a message, in bytes: enough to
// recognize it, short enough that a megabyte payload or a huge enum leaves
// a readable report.
const MaxShown = 80

// Render prints a decoded JSON value (what encoding/json produces with
// UseNumber) briefly for a message: object members in name order, strings
// and member names quoted with strconv.Quote, and the whole cut to about
// MaxShown bytes, the cut marked with "…". The walk stops once enough is
// written, so a huge value costs little. A Go value that is not JSON
// prints as "?".
func Render(v any) string {
	var b strings.Builder
	writeValue(&b, v)
	return Cut(b.String(), MaxShown)
}

func writeValue(b *strings.Builder, v any) {
	if b.Len() > MaxShown {
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		b.WriteString(Prefix(string(x), MaxShown+1))
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
	b.WriteString(strconv.Quote(Prefix(s, MaxShown+1)))
}

func writeArray(b *strings.Builder, a []any) {
	b.WriteByte('[')
	for i, v := range a {
		if b.Len() > MaxShown {
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
		if b.Len() > MaxShown {
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

// Prefix returns at most n bytes of s, ending on a rune boundary.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Cut shortens s to at most n bytes (ending on a rune boundary), marking
// the cut with "…"; s is returned as it is when it fits.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Prefix(s, n) + "…"
}

// Kind names a decoded JSON value's kind for a message: "null",
// "a boolean", "a string", "an array", "an object", or "a number" (for
// anything else).
func Kind(v any) string {
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

// UnionKeys are the names of two JSON objects' members, each once, in
// sorted order: comparing two objects member by member in a fixed order
// makes the first difference reported independent of map iteration.
func UnionKeys[V any](a, b map[string]V) []string {
	all := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			all = append(all, k)
		}
	}
	slices.Sort(all)
	return all
}
