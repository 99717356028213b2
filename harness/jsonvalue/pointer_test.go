package jsonvalue

import (
	"strings"
	"testing"
)

func TestPointer(t *testing.T) {
	tests := []struct {
		tokens []string
		want   string
	}{
		{nil, ""},
		{[]string{""}, "/"},
		{[]string{"a", "0"}, "/a/0"},
		{[]string{"a/b", "~/"}, "/a~1b/~0~1"},
		{[]string{"~1"}, "/~01"},
	}
	for _, tt := range tests {
		if got := Pointer(tt.tokens...); got != tt.want {
			t.Errorf("Pointer(%q) = %q, want %q", tt.tokens, got, tt.want)
		}
	}
}

func TestParsePointer(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{"", nil, false},
		{"/", []string{""}, false},
		{"/a/0", []string{"a", "0"}, false},
		{"/a~1b/~0~1", []string{"a/b", "~/"}, false},
		{"/~01", []string{"~1"}, false},
		{"a", nil, true},
		{"/~", nil, true},
		{"/~2", nil, true},
	}
	for _, tt := range tests {
		got, err := ParsePointer(tt.in)
		if (err != nil) != tt.bad || strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("ParsePointer(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// FuzzPointer: ParsePointer never panics, and a pointer it reads is written
// back by Pointer exactly as it was.
func FuzzPointer(f *testing.F) {
	for _, s := range []string{"", "/", "/a/0", "/a~1b/~0~1", "/~01", "a", "/~", "/~2", "//~0/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tokens, err := ParsePointer(s)
		if err != nil {
			return
		}
		if back := Pointer(tokens...); back != s {
			t.Fatalf("ParsePointer(%q) = %q, written back as %q", s, tokens, back)
		}
	})
}
