package kurrentstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
)

// index is this process's map from edkit global positions to $all. edkit
// positions are 1-based and gap-free; EventStoreDB's are commit/prepare log
// offsets with gaps. The index counts the events include accepts, in $all
// order, so ordinal n is the n-th such event; because $all is append-only
// the count is stable and every process that scans from the start agrees on
// it. It also maps event UUIDs to their location, which the adapter needs
// for edkit's cross-stream ID uniqueness and retry rules (EventStoreDB has no
// lookup by event ID).
//
// It grows by reading $all forward from where it stopped (catchUp), so the
// cost is paid once per event, but memory grows with the store: about a
// hundred bytes per event.
type index struct {
	mu        sync.Mutex
	positions []esdb.Position // ordinal i+1 -> $all position
	ids       map[uuid.UUID]location
	versions  map[string]uint64 // edkit stream -> current version
	scanned   *esdb.Position    // last $all position read, included or not
}

func newIndex() *index {
	return &index{ids: make(map[uuid.UUID]location), versions: make(map[string]uint64)}
}

// readBatch is how many $all events one read request asks for.
const readBatch = 1024

// scanAllFrom reads $all forward from from, skipping the event at exactly
// skip (nil: none; EventStoreDB reads include their start position), and
// calls fn for each event until fn returns false or the log ends.
func scanAllFrom(ctx context.Context, c *esdb.Client, from esdb.AllPosition, skip *esdb.Position, fn func(*esdb.RecordedEvent) bool) error {
	for {
		rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{From: from}, readBatch)
		if err != nil {
			return serverErr("read $all", err)
		}
		n := 0
		var last *esdb.Position
		for {
			re, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return serverErr("read $all", err)
			}
			n++
			r := re.OriginalEvent()
			p := r.Position
			last = &p
			if skip != nil && p == *skip {
				continue
			}
			if !fn(r) {
				rs.Close()
				return nil
			}
		}
		rs.Close()
		if n < readBatch || last == nil {
			return nil
		}
		from, skip = *last, last
	}
}

// serverErr wraps a client failure with ErrServer, or returns the context's
// error as is so callers can match context.Canceled.
func serverErr(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("kurrentstore: %s: %w: %w", op, ErrServer, err)
}

// catchUp extends the index to the current end of $all.
func (x *index) catchUp(ctx context.Context, c *esdb.Client, prefix string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	var from esdb.AllPosition = esdb.Start{}
	if x.scanned != nil {
		from = *x.scanned
	}
	return scanAllFrom(ctx, c, from, x.scanned, func(r *esdb.RecordedEvent) bool {
		p := r.Position
		x.scanned = &p
		stream, ok := include(prefix, r.StreamID, r.EventType)
		if !ok {
			return true
		}
		x.positions = append(x.positions, p)
		v := versionOf(r.EventNumber)
		x.ids[r.EventID] = location{stream: stream, version: v, position: uint64(len(x.positions))}
		if v > x.versions[stream] {
			x.versions[stream] = v
		}
		return true
	})
}

// lookup returns where an event UUID is stored, if the index has seen it.
func (x *index) lookup(id uuid.UUID) (location, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	l, ok := x.ids[id]
	return l, ok
}

// version returns the stream's version as far as the index has read.
func (x *index) version(stream string) uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.versions[stream]
}

// start is subscriptionStart over the index's table.
func (x *index) start(from uint64) (esdb.AllPosition, uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return subscriptionStart(from, x.positions)
}

// at returns the $all position of ordinal n, and how many ordinals are known.
func (x *index) at(n uint64) (esdb.Position, uint64, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	total := uint64(len(x.positions))
	if n == 0 || n > total {
		return esdb.Position{}, total, false
	}
	return x.positions[n-1], total, true
}

// ordinal returns the ordinal of the event at $all position p, if the index
// has read it.
func (x *index) ordinal(p esdb.Position) (uint64, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return ordinalOf(x.positions, p)
}
