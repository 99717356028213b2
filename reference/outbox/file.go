package outbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/edkit-dev/edkit/reference/atomicfile"
)

// FileCheckpoint is a durable Checkpoint in one small file. Save writes a
// temporary file in the same directory, fsyncs it, renames it over the
// checkpoint and fsyncs the directory, so after a crash the file holds
// either the old position or the new one, and a saved position survives
// power loss once Save returned.
type FileCheckpoint struct {
	path string
	mu   sync.Mutex // serialises saves: they share the temporary file name
}

var _ Checkpoint = (*FileCheckpoint)(nil)

// NewFileCheckpoint returns a checkpoint stored at path. The directory must
// exist; the file is created by the first Save.
func NewFileCheckpoint(path string) *FileCheckpoint {
	return &FileCheckpoint{path: path}
}

// Path is the checkpoint file's path.
func (c *FileCheckpoint) Path() string { return c.path }

// Load implements Checkpoint: 0 when the file does not exist yet.
func (c *FileCheckpoint) Load(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("outbox: load checkpoint: %w", err)
	}
	pos, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("outbox: checkpoint %s holds %q: %w", c.path, b, ErrCorruptCheckpoint)
	}
	return pos, nil
}

// Save implements Checkpoint with an atomic, synced replace.
func (c *FileCheckpoint) Save(ctx context.Context, pos uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := atomicfile.Write(c.path, []byte(strconv.FormatUint(pos, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("outbox: save checkpoint %d: %w", pos, err)
	}
	return nil
}
