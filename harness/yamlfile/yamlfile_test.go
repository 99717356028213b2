package yamlfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func mapping(tb testing.TB, src string) *yaml.Node {
	tb.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		tb.Fatal(err)
	}
	return doc.Content[0]
}

func TestKeys(t *testing.T) {
	known := []string{"kind", "name"}
	tests := []struct {
		src    string
		fields string
		probs  []string
	}{
		{"{kind: a, name: b}", "kind name", nil},
		{"{name: b, kind: a}", "name kind", nil},
		{"kind: a\nkind: b\n", "kind", []string{`2:1 x: duplicate key "kind"`}},
		{"{kind: a, kindd: b}", "kind", []string{`1:11 x: unknown key "kindd" (want one of kind, name)`}},
		{"{1: a, kind: b}", "kind", []string{"1:2 x: expected a field name, got integer 1"}},
		{"{kind: &k a, name: *k}", "kind", []string{"1:20 x.name: aliases are not supported"}},
		{"{kind: &k a, name: *k, name: b}", "kind", []string{"1:20 x.name: aliases are not supported", `1:24 x: duplicate key "name"`}},
		{"[kind]", "", []string{"1:1 x: expected a mapping, got a sequence"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			fields, probs := Keys(mapping(t, tt.src), "x", known)
			var names []string
			for _, f := range fields {
				names = append(names, f.Key)
			}
			if got := strings.Join(names, " "); got != tt.fields {
				t.Errorf("fields %q, want %q", got, tt.fields)
			}
			var got []string
			for _, p := range probs {
				got = append(got, fmt.Sprintf("%d:%d %s", p.Node.Line, p.Node.Column, p.Msg))
			}
			if strings.Join(got, "\n") != strings.Join(tt.probs, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.probs, "\n"))
			}
		})
	}
	// nil known: any name, repeats still caught.
	if _, probs := Keys(mapping(t, "{a: 1, b: 2, a: 3}"), "opts", nil); len(probs) != 1 || !strings.Contains(probs[0].Msg, `duplicate key "a"`) {
		t.Errorf("own names: %+v", probs)
	}
}

func TestReadFileLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.yaml")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(path, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	if _, err := ReadFile(path, 9); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := ReadFile("/dev/zero", 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("/dev/zero: %v", err)
	}
}

func FuzzKeys(f *testing.F) {
	f.Add([]byte("{kind: a, kind: b, 1: c, name: *x}"))
	f.Add([]byte("a: &x {b: 1}\nc: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
			return
		}
		fields, probs := Keys(doc.Content[0], "x", []string{"kind", "name"})
		seen := map[string]bool{}
		for _, fl := range fields {
			if seen[fl.Key] || fl.V.Kind == yaml.AliasNode {
				t.Fatalf("field %q accepted twice or as an alias", fl.Key)
			}
			seen[fl.Key] = true
		}
		for _, p := range probs {
			if p.Node == nil || p.Msg == "" {
				t.Fatal("a problem without a place or a message")
			}
		}
	})
}
