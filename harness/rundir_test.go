package harness

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunDir: a run writes only into a directory that is new, empty, or
// holds a run it was told to replace; a symbolic link or a directory of
// other files is refused, and replacing removes the run's files only.
func TestRunDir(t *testing.T) {
	mk := func(t *testing.T, files ...string) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "run")
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	t.Run("new", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		if got, _, err := runDir(dir, false); err != nil || got != dir {
			t.Fatalf("runDir(new) = %q, %v", got, err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if _, _, err := runDir(mk(t), false); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a run, not replaced", func(t *testing.T) {
		dir := mk(t, ChecksFile, "history.bin.zst")
		if _, _, err := runDir(dir, false); !errors.Is(err, ErrRunDirExists) || !strings.Contains(err.Error(), "--replace") {
			t.Fatalf("runDir = %v, want ErrRunDirExists naming --replace", err)
		}
		if _, err := os.Stat(filepath.Join(dir, ChecksFile)); err != nil {
			t.Fatal("the refused run's files were touched")
		}
	})
	t.Run("a run, replaced", func(t *testing.T) {
		dir := mk(t, ChecksFile, "history.bin.zst", "report.json")
		if err := os.Mkdir(filepath.Join(dir, "probe-1"), 0o750); err != nil {
			t.Fatal(err)
		}
		if _, _, err := runDir(dir, true); err != nil {
			t.Fatal(err)
		}
		left, _ := os.ReadDir(dir)
		if len(left) != 1 || left[0].Name() != "probe-1" {
			t.Fatalf("left %v, want only probe-1", left)
		}
	})
	t.Run("other files", func(t *testing.T) {
		dir := mk(t, "thesis.tex", ChecksFile)
		if _, _, err := runDir(dir, true); err == nil || !strings.Contains(err.Error(), "thesis.tex") {
			t.Fatalf("runDir = %v, want a refusal naming thesis.tex", err)
		}
		if _, err := os.Stat(filepath.Join(dir, ChecksFile)); err != nil {
			t.Fatal("files were removed from a directory that is not a run's")
		}
	})
	t.Run("symlink", func(t *testing.T) {
		target := mk(t)
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if _, _, err := runDir(link, true); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("runDir(symlink) = %v", err)
		}
	})
}
