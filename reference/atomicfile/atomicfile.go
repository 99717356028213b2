// Package atomicfile replaces files so that a reader sees the old
// contents or the new, never a mix, and a crash loses neither: the one way
// edkit writes a checkpoint, a state file, a report or a built binary.
// Each step is needed: a temporary file beside the target (a rename is
// atomic only within one file system), created exclusively under a random
// name (never through a symbolic link someone planted at a guessable one),
// fsynced before the rename (or the rename may survive a crash that its
// data does not), and the directory fsynced after it (or the rename itself
// may not).
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
)

// Write replaces path with data, mode perm. On failure path is untouched
// and the temporary file removed.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, removeIfThere(tmp.Name()))
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return errors.Join(err, tmp.Close())
	}
	if err := tmp.Chmod(perm); err != nil {
		return errors.Join(err, tmp.Close())
	}
	if err := tmp.Sync(); err != nil {
		return errors.Join(err, tmp.Close())
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return Rename(tmp.Name(), path)
}

// Rename moves a finished file (written and closed by someone else, a
// compiler say) over path and makes the move durable. The file should
// already be synced; Rename syncs it again to be sure.
func Rename(from, path string) error {
	if err := syncFile(from); err != nil {
		return err
	}
	if err := os.Rename(from, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncFile(name string) error {
	f, err := os.Open(name) //nolint:gosec // the caller's own file
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // the directory of the caller's own file
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func removeIfThere(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
