package jsonvalue

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const testURL = "inline:///schema.json"

var errRefused = errors.New("refused in a test")

func mustCompile(t *testing.T, schema string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	s, err := CompileSchema(testURL, doc, errRefused)
	if err != nil {
		t.Fatalf("CompileSchema(%s): %v", schema, err)
	}
	return s
}

func validates(t *testing.T, s *jsonschema.Schema, instance string) bool {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(instance))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(v) == nil
}

// TestCompileSchema checks the defaults: draft 2020-12 unless $schema says
// otherwise, "format" asserted, and local $refs resolved.
func TestCompileSchema(t *testing.T) {
	tests := []struct {
		schema, instance string
		valid            bool
	}{
		{`{"prefixItems":[{"type":"string"}]}`, `[1]`, false}, // 2020-12 knows prefixItems
		{`{"$schema":"http://json-schema.org/draft-07/schema#","prefixItems":[{"type":"string"}]}`, `[1]`, true},
		{`{"format":"date"}`, `"2024-13-45"`, false},
		{`{"format":"date"}`, `"2024-01-31"`, true},
		{`{"$ref":"#/$defs/n","$defs":{"n":{"type":"integer"}}}`, `1.5`, false},
		{`{"$ref":"https://json-schema.org/draft/2020-12/schema"}`, `{"type":"objekt"}`, false}, // embedded metaschema
	}
	for _, tt := range tests {
		if got := validates(t, mustCompile(t, tt.schema), tt.instance); got != tt.valid {
			t.Errorf("%s on %s: valid %v, want %v", tt.schema, tt.instance, got, tt.valid)
		}
	}
}

// TestCompileSchemaRefusesRemoteRefs checks that a $ref to any other
// document fails with the caller's error, without any attempt to fetch
// it: a server that would serve the document sees no request, and a file
// that exists is not read.
func TestCompileSchemaRefusesRemoteRefs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the compiler fetched a document")
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(file, []byte(`{"type": "object"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	refs := []string{srv.URL + "/s.json", "https://example.com/s.json#/$defs/a", "file://" + file, "other.json"}
	for _, ref := range refs {
		s, err := CompileSchema(testURL, map[string]any{"$ref": ref}, errRefused)
		var le *jsonschema.LoadURLError
		if s != nil || !errors.As(err, &le) || !errors.Is(le.Err, errRefused) {
			t.Errorf("$ref %s: compiled %v, error %v; want a LoadURLError with the refusal", ref, s != nil, err)
		}
	}
	if _, err := CompileSchema(testURL, map[string]any{"$schema": srv.URL + "/meta.json"}, errRefused); err == nil {
		t.Error("a remote $schema accepted")
	}
}

func TestCompileSchemaBadURL(t *testing.T) {
	if _, err := CompileSchema("https://json-schema.org/draft/2020-12/schema", map[string]any{}, errRefused); err == nil {
		t.Error("a metaschema's URL accepted")
	}
}

func TestLeaf(t *testing.T) {
	s := mustCompile(t, `{"properties":{"items":{"items":{"properties":{"qty":{"type":"integer","minimum":1}}}}}}`)
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"items":[{"qty":1},{"qty":0}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var ve *jsonschema.ValidationError
	if err := s.Validate(v); !errors.As(err, &ve) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	where, msg := Leaf(ve)
	if Pointer(where...) != "/items/1/qty" || !strings.Contains(msg, "minimum") {
		t.Errorf("got %q, %q", where, msg)
	}
}
