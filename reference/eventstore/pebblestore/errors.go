package pebblestore

import "errors"

var (
	// ErrCorrupt is returned when a stored record cannot be decoded or the
	// tables disagree (for example the last position does not match the
	// global log), so a damaged directory is reported instead of served.
	ErrCorrupt = errors.New("pebblestore: corrupt store")
	// ErrFailed is returned by appends after a batch commit failed: versions
	// and positions already handed to later appends can no longer be trusted,
	// so the store refuses writes until it is reopened (reads keep working).
	// Pebble itself treats a failed commit as fatal (its default Logger's
	// Fatalf exits the process), so this is seen only with a Logger, set
	// through WithPebbleOptions, whose Fatalf returns.
	ErrFailed = errors.New("pebblestore: store failed after a write error")
)
