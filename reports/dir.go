package reports

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/edkit-dev/edkit/reference/atomicfile"
)

// Names of the files WriteDir writes.
const (
	JSONFile  = "report.json"
	JUnitFile = "junit.xml"
)

// WriteDir writes report.json, junit.xml and report.md for r into dir,
// creating it.
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
	}{{JSONFile, WriteJSON}, {JUnitFile, WriteJUnit}, {MarkdownFile, WriteMarkdown}} {
		var buf bytes.Buffer
		if err := f.write(&buf, r); err != nil {
			return fmt.Errorf("reports: %s: %w", f.name, err)
		}
		if err := atomicfile.Write(filepath.Join(dir, f.name), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("reports: %w", err)
		}
	}
	return nil
}
