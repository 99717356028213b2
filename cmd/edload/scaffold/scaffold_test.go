package scaffold_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/cmd/edload/scaffold"
)

// TestGeneratedCodePasses writes every kind into a fresh module that uses
// edkit as a user's module does (a replace to this repository) and runs
// go vet and go test on it: each skeleton compiles and its given/when/then
// test passes.
func TestGeneratedCodePasses(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/shop\n\ngo 1.26.8\n\nrequire github.com/edkit-dev/edkit v0.0.0\n\nreplace github.com/edkit-dev/edkit => " + root + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o600); err != nil {
		t.Fatal(err)
	}
	// The example module's sums cover what edkit's fixtures need.
	sums, err := os.ReadFile(filepath.Join(root, "examples", "bank", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o600); err != nil {
		t.Fatal(err)
	}
	// Two of each in one package: nothing the skeletons declare collides.
	for _, kind := range scaffold.Kinds {
		if kind == scaffold.KindScenario {
			continue // a YAML file: TestWriteScenarioParses
		}
		for _, name := range []string{"order", "Refund"} {
			files, err := scaffold.Write(dir, kind, name+kind, "shop")
			if err != nil || len(files) != 2 {
				t.Fatalf("Write %s: %v (%v)", kind, err, files)
			}
		}
	}
	for _, args := range [][]string{{"mod", "tidy"}, {"vet", "./..."}, {"test", "-count=1", "./..."}} {
		cmd := exec.CommandContext(t.Context(), "go", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestWriteRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := scaffold.Write(dir, "aggregate", "Account", "bank"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind, name, pkg string
		want            error
	}{
		{"aggregate", "Account", "bank", scaffold.ErrExists},
		{"widget", "Account", "bank", scaffold.ErrBadInput},
		{"saga", "../evil", "bank", scaffold.ErrBadInput},
		{"saga", "Transfer", "Bank", scaffold.ErrBadInput},
	}
	for _, tt := range tests {
		if _, err := scaffold.Write(dir, tt.kind, tt.name, tt.pkg); !errors.Is(err, tt.want) {
			t.Errorf("Write(%s, %s, %s) = %v, want %v", tt.kind, tt.name, tt.pkg, err, tt.want)
		}
	}
	// The package of the files already there is taken when none is given.
	files, err := scaffold.Write(dir, "projection", "Balances", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil || !strings.HasPrefix(string(b), "package bank\n") {
		t.Errorf("%s: %v\n%.40s", files[0], err, b)
	}
}
