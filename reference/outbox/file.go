package outbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	if err := writeAtomic(c.path, []byte(strconv.FormatUint(pos, 10)+"\n")); err != nil {
		return fmt.Errorf("outbox: save checkpoint %d: %w", pos, err)
	}
	return nil
}

// writeAtomic replaces path with data: temp file, fsync, rename, fsync of
// the directory (without which the rename itself may not survive a crash).
func writeAtomic(path string, data []byte) (err error) {
	tmp := path + ".tmp"
	//nolint:gosec // G304: the path is the checkpoint's own, chosen by the caller that owns the directory.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	if err = d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}
