package pebbleinbox

import (
	"errors"
	"fmt"

	"github.com/edkit-dev/edkit/reference/bus"
)

var (
	// ErrClosed is returned by calls on a closed inbox; it wraps
	// bus.ErrClosed so callers can test for either.
	ErrClosed = fmt.Errorf("pebbleinbox: %w", bus.ErrClosed)
	// ErrCorrupt marks a stored record that cannot be decoded.
	ErrCorrupt = errors.New("pebbleinbox: corrupt record")
)
