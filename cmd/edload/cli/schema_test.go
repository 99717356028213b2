package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runSchema runs `edload schema ARGS` through execute and returns the
// exit code, stdout and stderr.
func runSchema(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := execute(context.Background(), append([]string{"schema"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

const schemaData = "testdata/schema"

func TestSchemaCheck(t *testing.T) {
	v := func(n string) string { return filepath.Join(schemaData, "versions", n) }
	tests := []struct {
		name string
		args []string
		code int
		out  []string // lines or parts of lines stdout must hold
		err  []string // and stderr
		not  []string // and stdout must not
	}{
		{name: "compatible pair", args: []string{"check", v("order.v1.json"), v("order.v2.json")}, code: exitOK,
			out: []string{`"testdata/schema/versions/order.v1.json" -> "testdata/schema/versions/order.v2.json" (backward): compatible (0 incompatible, 2 compatible, 0 not analysed)`},
			not: []string{"TYPE_EXTENDED"}},
		{name: "compatible pair, verbose", args: []string{"check", "-v", v("order.v1.json"), v("order.v2.json")}, code: exitOK,
			out: []string{"  compatible TYPE_EXTENDED at #/properties/amount/type: type widened from integer to number",
				`  compatible OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL at #/properties/currency: optional property "currency" added`}},
		{name: "incompatible pair", args: []string{"check", v("order.v2.json"), v("order.v3.yaml")}, code: exitBroken,
			out: []string{"(backward): INCOMPATIBLE (1 incompatible, 0 compatible, 0 not analysed)",
				`  incompatible REQUIRED_ATTRIBUTE_ADDED at #/required/2 (older: #/required): property "currency" became required: data written with the older schema may lack it`}},
		{name: "forward", args: []string{"check", "--mode", "forward", v("order.v2.json"), v("order.v3.yaml")}, code: exitOK,
			out: []string{"(forward): compatible"}},
		{name: "full", args: []string{"check", "--mode", "full", v("order.v1.json"), v("order.v2.json")}, code: exitBroken,
			out: []string{"(full): INCOMPATIBLE",
				"  incompatible [forward] PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL at #/properties/currency:",
				"  incompatible [forward] TYPE_NARROWED at #/properties/amount/type: type narrowed from number to integer"}},
		{name: "full, mode in capitals", args: []string{"check", "--mode=FULL", v("order.v1.json"), v("order.v1.json")}, code: exitOK,
			out: []string{"(full): compatible (0 incompatible, 0 compatible, 0 not analysed)"}},
		{name: "directory", args: []string{"check", filepath.Join(schemaData, "versions")}, code: exitBroken,
			out: []string{`"order" v1 -> v2 (backward): compatible`, `"order" v2 -> v3 (backward): INCOMPATIBLE`,
				"  incompatible REQUIRED_ATTRIBUTE_ADDED at #/required/2", "2 pairs checked, 1 incompatible"}},
		{name: "directory, not transitive", args: []string{"check", filepath.Join(schemaData, "transitive")}, code: exitOK,
			out: []string{`"payment" v1 -> v2 (backward): compatible`, `"payment" v2 -> v3 (backward): compatible`, "2 pairs checked, 0 incompatible"}},
		{name: "directory, transitive", args: []string{"check", "--transitive", filepath.Join(schemaData, "transitive")}, code: exitBroken,
			out: []string{`"payment" v1 -> v3 (backward): INCOMPATIBLE`, "  incompatible REQUIRED_ATTRIBUTE_ADDED at #/required/1", "3 pairs checked, 1 incompatible"}},
		{name: "not analysed", args: []string{"check", filepath.Join(schemaData, "not.v1.json"), filepath.Join(schemaData, "not.v2.json")}, code: exitOK,
			out: []string{"(backward): compatible (0 incompatible, 0 compatible, 1 not analysed)", "  not analysed at #/not: not changed: not analysed"}},
		{name: "not analysed, strict", args: []string{"check", "--strict", filepath.Join(schemaData, "not.v1.json"), filepath.Join(schemaData, "not.v2.json")},
			code: exitBroken, out: []string{"(backward): INCOMPATIBLE (0 incompatible, 0 compatible, 1 not analysed)"}},

		// Bad input: exit 2, naming the file and the place.
		{name: "not JSON", args: []string{"check", v("order.v1.json"), filepath.Join(schemaData, "bad.json")}, code: exitUsage,
			err: []string{"edload: testdata/schema/bad.json:5:3: not JSON: invalid character '}' looking for beginning of object key string"}},
		{name: "does not compile", args: []string{"check", filepath.Join(schemaData, "bad-schema.yaml"), v("order.v1.json")}, code: exitUsage,
			err: []string{"edload: testdata/schema/bad-schema.yaml:4:5: not a valid JSON Schema: at #/properties/id/type"}},
		{name: "both files bad", args: []string{"check", filepath.Join(schemaData, "bad-schema.yaml"), filepath.Join(schemaData, "bad.json")}, code: exitUsage,
			err: []string{"bad-schema.yaml:4:5:", "bad.json:5:3:"}},
		{name: "remote $ref", args: []string{"check", filepath.Join(schemaData, "remote.json"), v("order.v1.json")}, code: exitUsage,
			err: []string{`testdata/schema/remote.json:1:48: $ref "https://schemas.example.com/customer.json" refused`}},
		{name: "missing file", args: []string{"check", v("order.v1.json"), v("order.v9.json")}, code: exitUsage,
			err: []string{"order.v9.json: cannot read schema", "no such file or directory"}},
		{name: "directory with a bad version", args: []string{"check", schemaData}, code: exitUsage,
			err: []string{"testdata/schema/bad.json: not named as a version of a subject"}},
		{name: "missing directory", args: []string{"check", filepath.Join(schemaData, "nope")}, code: exitUsage,
			err: []string{"no such file or directory"}},

		// Bad usage: exit 2, naming the flag or the argument.
		{name: "unknown mode", args: []string{"check", "--mode", "sideways", v("order.v1.json"), v("order.v2.json")}, code: exitUsage,
			err: []string{`edload: --mode "sideways": want backward, forward or full`, "Run 'edload --help' for usage."}},
		{name: "unknown flag", args: []string{"check", "--colour", v("order.v1.json")}, code: exitUsage,
			err: []string{"unknown flag: --colour"}},
		{name: "no arguments", args: []string{"check"}, code: exitUsage, err: []string{"schema check takes OLD NEW"}},
		{name: "three arguments", args: []string{"check", "a", "b", "c"}, code: exitUsage, err: []string{"got 3 arguments"}},
		{name: "one file", args: []string{"check", v("order.v1.json")}, code: exitUsage, err: []string{"is a file: schema check takes OLD NEW"}},
		{name: "transitive with two files", args: []string{"check", "--transitive", v("order.v1.json"), v("order.v2.json")}, code: exitUsage,
			err: []string{"--transitive applies to a directory"}},
		{name: "no subcommand", args: nil, code: exitUsage, err: []string{"schema needs a subcommand: check"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runSchema(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.out {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.err {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(stdout, w) {
					t.Errorf("stdout has %q:\n%s", w, stdout)
				}
			}
		})
	}
}

// TestSchemaCheckEscapes: names and values from a schema file reach the
// terminal quoted, so an escape sequence in a property name cannot move
// the cursor or forge a line; a device named as a schema is refused at
// the size limit.
func TestSchemaCheckEscapes(t *testing.T) {
	d := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := write("old.json", `{"type":"object","additionalProperties":false,"properties":{"a":{"type":"string"}}}`)
	nw := write("new.json", `{"type":"object","additionalProperties":false,"properties":{"a":{"type":"string"},`+
		`"x\u001b[2J\nOK: forged":{"type":"string","enum":["\u001b[31mred"]}},"required":["x\u001b[2J\nOK: forged"]}`)
	code, stdout, stderr := runSchema(t, "check", old, nw)
	if code != exitBroken {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitBroken, stdout, stderr)
	}
	if strings.ContainsRune(stdout, '\x1b') || strings.Contains(stdout, "\nOK: forged") {
		t.Errorf("unescaped control characters in:\n%q", stdout)
	}
	if !strings.Contains(stdout, `REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL at "#/properties/x\x1b[2J\nOK: forged"`) {
		t.Errorf("the pointer is not quoted:\n%s", stdout)
	}

	zero := filepath.Join(d, "zero.json")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runSchema(t, "check", old, zero)
	if code != exitUsage || !strings.Contains(stderr, "zero.json: cannot read schema: larger than") {
		t.Errorf("/dev/zero: exit %d, stderr:\n%s", code, stderr)
	}
}
