package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Names of the files WriteDir writes.
const (
	JSONFile  = "report.json"
	JUnitFile = "junit.xml"
)

// WriteDir writes report.json and junit.xml for r into dir, creating it.
// Each file is written to a temporary name and renamed, so a reader (or a CI
// uploader) never sees half a report.
func WriteDir(dir string, r *Run) error {
	if r == nil {
		return ErrNilRun
	}
	// 0o755, not 0o750: the report directory is handed to CI artifact
	// uploaders and viewers that may run as another user, and the files in
	// it are made 0o644 for the same reason.
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: world-readable on purpose, see above
		return fmt.Errorf("reports: %w", err)
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer, *Run) error
	}{{JSONFile, WriteJSON}, {JUnitFile, WriteJUnit}} {
		var buf bytes.Buffer
		if err := f.write(&buf, r); err != nil {
			return fmt.Errorf("reports: %s: %w", f.name, err)
		}
		if err := writeFileAtomic(filepath.Join(dir, f.name), buf.Bytes()); err != nil {
			return fmt.Errorf("reports: %w", err)
		}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path. On any failure the temporary file is closed and removed, and
// errors from that cleanup are joined to the one returned.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if err == nil {
			return // renamed: nothing left to clean up
		}
		if !closed {
			err = errors.Join(err, tmp.Close())
		}
		if rerr := os.Remove(tmp.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	closed = true
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
