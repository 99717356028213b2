package jsonvalue

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRender(t *testing.T) {
	long := strings.Repeat("z", 200)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"null", nil, "null"},
		{"boolean", true, "true"},
		{"number as written", json.Number("12.50"), "12.50"},
		{"string", "confirmed", `"confirmed"`},
		{"escaped", "a\x1b[2J\u200bb\n", `"a\x1b[2J\u200bb\n"`},
		{"members sorted", map[string]any{"b": json.Number("1"), "a": []any{"x"}}, `{"a":["x"],"b":1}`},
		{"member names escaped", map[string]any{"\x00": nil}, `{"\x00":null}`},
		{"empty", []any{map[string]any{}, []any{}}, `[{},[]]`},
		{"not JSON", 3, "?"},
		{"long string", long, `"` + strings.Repeat("z", 79) + "…"},
		{"long number", json.Number(strings.Repeat("9", 200)), strings.Repeat("9", 80) + "…"},
	}
	for _, tt := range tests {
		if got := Render(tt.v); got != tt.want {
			t.Errorf("%s: Render = %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestRenderStopsEarly checks that a huge value is cut, and that the walk
// stops instead of printing it whole first: a value with a million members
// renders in about the time of a short one.
func TestRenderStopsEarly(t *testing.T) {
	a := make([]any, 1_000_000)
	for i := range a {
		a[i] = "yyyyyyyy"
	}
	o := map[string]any{"a": a, "b": map[string]any{"c": a}}
	got := Render(o)
	if len(got) > MaxShown+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, `{"a":["yyyyyyyy","yyyyyyyy",`) {
		t.Errorf("got %d bytes: %q", len(got), got)
	}
	if n := testing.AllocsPerRun(3, func() { Render(o) }); n > 1000 {
		t.Errorf("Render allocated %v times: it walked the whole value", n)
	}
}

func TestPrefixAndCut(t *testing.T) {
	tests := []struct {
		s           string
		n           int
		prefix, cut string
	}{
		{"abc", 3, "abc", "abc"},
		{"abcd", 3, "abc", "abc…"},
		{"héllo", 2, "h", "h…"}, // é is two bytes: never split
		{"héllo", 3, "hé", "hé…"},
		{"日本", 2, "", "…"},
		{"", 0, "", ""},
	}
	for _, tt := range tests {
		if got := Prefix(tt.s, tt.n); got != tt.prefix {
			t.Errorf("Prefix(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.prefix)
		}
		if got := Cut(tt.s, tt.n); got != tt.cut {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.cut)
		}
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{false, "a boolean"},
		{"", "a string"},
		{[]any{}, "an array"},
		{map[string]any{}, "an object"},
		{json.Number("1"), "a number"},
		{1.5, "a number"},
	}
	for _, tt := range tests {
		if got := Kind(tt.v); got != tt.want {
			t.Errorf("Kind(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// FuzzRender: whatever JSON a broker sends, its rendering is short, valid
// UTF-8 and printable (nothing reaches a terminal unescaped).
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		`{"status":"confirmed","items":[{"sku":"A","qty":2}]}`, `"\u001b[2J"`, `"\u200b"`, `1e999999`,
		`{"\u0000":[null,true,false,-0.5]}`, `["` + strings.Repeat("é", 100) + `"]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		got := Render(v)
		if len(got) > MaxShown+len("…") || !utf8.ValidString(got) || strings.ContainsFunc(got, notPrintable) {
			t.Fatalf("Render(%s) = %q", data, got)
		}
	})
}

func notPrintable(r rune) bool { return !strconv.IsPrint(r) }

func TestUnionKeys(t *testing.T) {
	got := UnionKeys(map[string]int{"b": 1, "a": 2}, map[string]int{"c": 3, "a": 4})
	if strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("UnionKeys = %v, want [a b c]", got)
	}
	if got := UnionKeys(map[string]int{}, nil); len(got) != 0 {
		t.Fatalf("UnionKeys of nothing = %v", got)
	}
}
