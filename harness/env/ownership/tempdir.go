package ownership

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TempPrefix begins the name of every temporary directory edkit makes.
const TempPrefix = "edkit-"

// MarkerFile, in each temporary directory edkit makes, names the process
// that made it.
const MarkerFile = ".edkit-owner"

// MkdirTemp makes a temporary directory as os.MkdirTemp(dir, pattern) does
// (pattern must begin with TempPrefix) and writes into it a marker naming
// this process, so that Sweep can tell the leftovers of a process that was
// killed (SIGKILL runs no cleanup) from the directories of one still at
// work.
func MkdirTemp(dir, pattern string) (string, error) {
	if !strings.HasPrefix(pattern, TempPrefix) {
		return "", fmt.Errorf("ownership: temp dir pattern %q must begin with %q", pattern, TempPrefix)
	}
	self, err := Self()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(self)
	if err != nil {
		return "", err
	}
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	marker := filepath.Join(d, MarkerFile)
	if err := os.WriteFile(marker, b, 0o644); err != nil { //nolint:gosec // G306, G703: env clean reads it, maybe as another user; d was just made
		return "", errors.Join(err, os.RemoveAll(d)) //nolint:gosec // G703: d is the dir just made, not input
	}
	return d, nil
}

// Sweep removes the directories directly under root (os.TempDir() when
// empty) whose names begin with TempPrefix and whose marker names a
// process that no longer runs, and returns them. A directory without a
// marker, or whose process still runs or cannot be checked, is not
// provably a leftover, and stays.
func Sweep(root string) ([]string, error) {
	if root == "" {
		root = os.TempDir()
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("ownership: sweep: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), TempPrefix) {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if !orphaned(dir) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, dir)
	}
	return removed, errors.Join(errs...)
}

// orphaned reports whether dir's marker names a process that is gone.
func orphaned(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, MarkerFile)) //nolint:gosec // a marker edkit wrote
	if err != nil {
		return false
	}
	var id ID
	if json.Unmarshal(b, &id) != nil || id.PID <= 0 || id.Start == 0 {
		return false
	}
	p, err := Open(id)
	if err == nil {
		_ = p.Release()
		return false
	}
	var notOurs *NotOursError
	// Gone, or its PID now names a process that started at another time:
	// the one that made dir is dead either way.
	return errors.Is(err, ErrGone) || (errors.As(err, &notOurs) && notOurs.Found.Start != id.Start)
}
