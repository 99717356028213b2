package outbox

import (
	"context"
	"sync"
)

// Checkpoint stores the global position of the last event the relay has
// published with a broker confirmation. Load returns 0 when nothing was
// saved, and the relay resumes at the position after the loaded one.
//
// Save is called only after a confirmed publish and with positions that
// never decrease; an implementation need not check either, but it must be
// atomic: after a crash Load returns either the old or the new position,
// never a torn value.
type Checkpoint interface {
	Load(ctx context.Context) (uint64, error)
	Save(ctx context.Context, pos uint64) error
}

// MemoryCheckpoint is a Checkpoint held in memory: it survives a restart of
// the relay within the process (a new Relay given the same value resumes),
// not of the process.
type MemoryCheckpoint struct {
	mu    sync.Mutex
	pos   uint64
	saves int
}

var _ Checkpoint = (*MemoryCheckpoint)(nil)

// NewMemoryCheckpoint returns a checkpoint at position 0.
func NewMemoryCheckpoint() *MemoryCheckpoint { return &MemoryCheckpoint{} }

// Load implements Checkpoint.
func (c *MemoryCheckpoint) Load(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos, nil
}

// Save implements Checkpoint.
func (c *MemoryCheckpoint) Save(ctx context.Context, pos uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pos = pos
	c.saves++
	return nil
}

// Saves counts the saves so far, so tests can see how often the relay
// checkpoints.
func (c *MemoryCheckpoint) Saves() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saves
}
