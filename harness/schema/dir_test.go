package schema_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/schema"
)

// pairs renders CheckDir's reports as "subject vN->vM ok|BROKEN".
func pairs(reps []schema.PairReport) []string {
	out := make([]string, 0, len(reps))
	for _, p := range reps {
		verdict := "ok"
		if !p.Report.Compatible() {
			verdict = "BROKEN"
		}
		out = append(out, p.Subject+" v"+strconv.Itoa(p.Old.Number)+"->v"+strconv.Itoa(p.New.Number)+" "+verdict)
	}
	return out
}

func TestCheckDir(t *testing.T) {
	tests := []struct {
		name       string
		dir        string
		mode       schema.Mode
		transitive bool
		want       []string
	}{
		// v3 breaks v2 (currency became required); customer v10 comes
		// after v9, not between v1 and v2.
		{"consecutive", "testdata/versions", schema.Backward, false,
			[]string{"customer v9->v10 ok", "order v1->v2 ok", "order v2->v3 BROKEN"}},
		{"consecutive, full", "testdata/versions", schema.Full, false,
			[]string{"customer v9->v10 ok", "order v1->v2 BROKEN", "order v2->v3 BROKEN"}},
		// v3 is compatible with v2 but not with v1.
		{"not transitive", "testdata/transitive", schema.Backward, false,
			[]string{"payment v1->v2 ok", "payment v2->v3 ok"}},
		{"transitive", "testdata/transitive", schema.Backward, true,
			[]string{"payment v1->v2 ok", "payment v2->v3 ok", "payment v1->v3 BROKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reps, err := schema.CheckDir(tt.dir, tt.mode, tt.transitive)
			if err != nil {
				t.Fatal(err)
			}
			if got := pairs(reps); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("pairs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	reps, err := schema.CheckDir("testdata/transitive", schema.Backward, true)
	if err != nil {
		t.Fatal(err)
	}
	last := reps[len(reps)-1].Report
	if bad := last.Incompatible(); len(bad) != 1 || bad[0].Kind != schema.RequiredAttributeAdded || bad[0].Pointer != "/required/1" {
		t.Errorf("v1->v3: %+v, want REQUIRED_ATTRIBUTE_ADDED at /required/1", bad)
	}
}

func TestCheckDirBadInput(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		t.Helper()
		d := t.TempDir()
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(d, name), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"empty", map[string]string{"README.md": "x"}, "no versioned schemas"},
		{"misnamed version", map[string]string{"a.v1.json": "{}", "a-v2.json": "{}"}, "a-v2.json: not named as a version"},
		{"repeated version", map[string]string{"a.v1.json": "{}", "a.v01.yaml": "{}"}, "version 1 of subject \"a\" is also"},
		{"bad schema", map[string]string{"a.v1.json": "{}", "a.v2.json": "{\n  \"type\": 7\n}"}, "a.v2.json:2:3: not a valid JSON Schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := write(t, tt.files)
			_, err := schema.CheckDir(d, schema.Backward, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !errors.Is(err, schema.ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
		})
	}
	if _, err := schema.CheckDir(filepath.Join(t.TempDir(), "missing"), schema.Backward, false); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
	if _, err := schema.CheckDir("testdata/versions", schema.Mode(0), false); err == nil {
		t.Error("mode 0: no error")
	}
}
