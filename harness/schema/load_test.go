package schema_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/schema"
	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// schemaFiles lists the schema files under testdata.
func schemaFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".json", ".yaml":
			out = append(out, path)
		}
		return nil
	})
	if err != nil || len(out) == 0 {
		t.Fatalf("testdata: %v (%d files)", err, len(out))
	}
	return out
}

func TestLoad(t *testing.T) {
	for _, path := range schemaFiles(t) {
		s, err := schema.Load(path)
		if err != nil {
			t.Errorf("Load(%s): %v", path, err)
			continue
		}
		if s.Name() != path {
			t.Errorf("Name() = %q, want %q", s.Name(), path)
		}
	}
}

// TestParseYAMLAndJSONAgree: the same schema written in YAML and in JSON
// is the same schema.
func TestParseYAMLAndJSONAgree(t *testing.T) {
	y := mustParse(t, "s.yaml", "type: object\nproperties:\n  n: {type: integer, maximum: 5}\nrequired: [n]\n")
	j := mustParse(t, "s.json", `{"type":"object","properties":{"n":{"type":"integer","maximum":5}},"required":["n"]}`)
	if r := schema.Compatible(y, j, schema.Full); len(r.Differences) > 0 {
		t.Errorf("YAML and JSON differ:%s", describe(r))
	}
	// Without an extension, the content decides.
	if _, err := schema.Parse("schema", []byte(`{"type":"string"}`)); err != nil {
		t.Errorf("JSON without an extension: %v", err)
	}
	if _, err := schema.Parse("schema", []byte("type: string\n")); err != nil {
		t.Errorf("YAML without an extension: %v", err)
	}
	if _, err := schema.Parse("s.json", []byte("\xef\xbb\xbf{\"type\":\"string\"}")); err != nil {
		t.Errorf("JSON with a byte-order mark: %v", err)
	}
}

// TestParseBadInput: every malformed schema is an *Error matching
// ErrInvalid, at file:line:column where the file has a place for it.
func TestParseBadInput(t *testing.T) {
	tests := []struct {
		name, file, data string
		want             string // the start of the message
	}{
		{"not JSON", "s.json", "{\n  \"type\": \"object\",\n}", `s.json:3:1: not JSON: invalid character '}'`},
		{"truncated JSON", "s.json", `{"type": "object"`, `s.json:1:17: not JSON: unexpected end of JSON input`},
		{"binary", "s.json", "\x00\x01\x02", `s.json:1:1: not JSON: invalid character '\x00'`},
		{"data after the document", "s.json", `{"type":"string"} {}`, `s.json:1:19: unexpected data after the JSON document`},
		{"repeated key", "s.json", "{\"type\": \"string\",\n \"type\": \"integer\"}", `s.json:2:2: duplicate key "type"`},
		{"empty", "s.json", " \n", `s.json:1:1: empty file`},
		{"not a schema", "s.json", `[{"type":"string"}]`, `s.json:1:1: not a JSON Schema: want an object (or true or false), got an array`},
		{"too deep", "s.json", strings.Repeat(`{"not":`, 100) + "{}" + strings.Repeat("}", 100), `s.json:1:`},
		{"huge number", "s.json", `{"maximum": 1e999999}`, `s.json:1:13: number 1e999999 is too large`},
		{"does not compile", "s.json", "{\n  \"type\": \"objekt\"\n}", `s.json:2:3: not a valid JSON Schema: at #/type: value must be one of`},
		{"does not compile, nested", "s.json", "{\"properties\": {\n  \"a\": {\"minLength\": -1}}}", `s.json:2:9: not a valid JSON Schema: at #/properties/a/minLength`},
		{"remote $ref refused", "s.json", "{\"properties\": {\n  \"a\": {\"$ref\": \"https://example.com/a.json\"}}}", `s.json:2:9: $ref "https://example.com/a.json" refused`},
		{"file $ref refused", "s.json", `{"$ref": "other.json#/x"}`, `s.json:1:2: $ref "other.json#/x" refused`},
		{"dangling $ref", "s.json", "{\"properties\": {\n  \"a\": {\"$ref\": \"#/$defs/Nope\"}}}", `s.json:2:9: json-pointer in "#/$defs/Nope" not found`},
		{"bad regex", "s.yaml", "properties:\n  a:\n    pattern: \"(\"\n", `s.yaml:3:5: not a valid JSON Schema: at #/properties/a/pattern`},
		{"not YAML", "s.yaml", "type: object\nproperties: [a\n", `s.yaml:`},
		{"YAML tab", "s.yaml", "type: object\n\tproperties: {}\n", `s.yaml:2:1: not YAML: found a tab character`},
		{"YAML control character", "s.yaml", "\x00", `s.yaml:1:1: not YAML: control characters are not allowed`},
		{"YAML alias", "s.yaml", "$defs:\n  a: &x {type: string}\nproperties:\n  b: *x\n", `s.yaml:4:6: schema.properties.b: aliases are not supported`},
		{"YAML repeated key", "s.yaml", "type: object\ntype: string\n", `s.yaml:2:1: schema: duplicate key "type"`},
		{"two YAML documents", "s.yaml", "type: object\n---\ntype: string\n", `s.yaml:`},
		{"empty YAML", "s.yaml", "# nothing\n", `s.yaml:1:1: empty file`},
		{"YAML scalar", "s.yaml", "hello\n", `s.yaml:1:1: not a JSON Schema: want an object`},
		{"YAML does not compile", "s.yaml", "type: object\nproperties:\n  n:\n    type: 5\n", `s.yaml:4:5: not a valid JSON Schema: at #/properties/n/type`},
		{"too many objects", "s.json", `{"anyOf":[` + strings.Repeat(`{},`, 10_000) + `{}]}`, `s.json: too large to check: more than 10000 objects`},
		{"remote $schema refused", "s.yaml", "$schema: https://example.com/meta\ntype: object\n", `s.yaml:1:1: $schema "https://example.com/meta" refused`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := schema.Parse(tt.file, []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse: no error, got %v", s)
			}
			if !errors.Is(err, schema.ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			var e *schema.Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not an *Error", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n  %s\nwant it to start with\n  %s", err, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\x00\x1b") {
				t.Errorf("unescaped control character in %q", err)
			}
		})
	}
}

// TestLoadBadFiles: files that cannot be read are errors naming the file,
// and a device or a huge file is refused at the size limit, not read.
func TestLoadBadFiles(t *testing.T) {
	d := t.TempDir()
	zero := filepath.Join(d, "zero.json")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(d, "huge.json")
	if err := os.WriteFile(huge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, yamlfile.MaxSize+1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		is         error
	}{
		{"missing", filepath.Join(d, "missing.json"), fs.ErrNotExist},
		{"/dev/zero", zero, yamlfile.ErrTooLarge},
		{"huge", huge, yamlfile.ErrTooLarge},
		{"directory", d, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.Load(tt.path)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.HasPrefix(err.Error(), tt.path+": cannot read schema") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}
