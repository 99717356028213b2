package eventstore

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
)

// End, as ReadStreamBackwards' from, starts at a stream's newest event.
const End uint64 = math.MaxUint64

// StreamMetadata is what a stream says about its own retention, modelled on
// EventStoreDB's $maxCount and $tb. Both only hide events from stream reads:
// nothing is rewritten, so the global log and every position stay intact.
type StreamMetadata struct {
	// MaxCount, when > 0, keeps only the newest MaxCount events visible.
	MaxCount uint64 `json:"maxCount,omitempty"`
	// TruncateBefore, when > 0, hides every version below it. A value past
	// the last version is a soft delete: the stream reads as not found
	// until an append recreates it.
	TruncateBefore uint64 `json:"truncateBefore,omitempty"`
}

// FirstVisible returns the lowest version a stream read may return when the
// stream's last version is last. It is last+1 or more when nothing is
// visible.
func (md StreamMetadata) FirstVisible(last uint64) uint64 {
	first := uint64(1)
	if md.TruncateBefore > first {
		first = md.TruncateBefore
	}
	if md.MaxCount > 0 && last >= md.MaxCount && last-md.MaxCount+1 > first {
		first = last - md.MaxCount + 1
	}
	return first
}

// StreamState is what an expectation is tested against: the stream's last
// version (kept through a soft delete, so versions continue) and whether it
// currently exists (has events and is not soft-deleted).
type StreamState struct {
	Last     uint64
	Metadata StreamMetadata
}

// Exists reports whether the stream has an event that reads can return: a
// stream that was never written, or that is soft-deleted, does not exist.
func (st StreamState) Exists() bool {
	return st.Last > 0 && st.Metadata.TruncateBefore <= st.Last
}

// Check tests an expectation and returns a *ConcurrencyError when it does
// not hold. NoStream (and Exact(0)) hold for a stream that does not exist,
// StreamExists for one that does, Exact(v) when v is the last version —
// also for a soft-deleted stream, whose numbering continues.
func (st StreamState) Check(stream string, expected ExpectedVersion) error {
	ok := true
	switch expected {
	case Any:
	case NoStream, 0:
		ok = !st.Exists()
	case StreamExists:
		ok = st.Exists()
	default:
		ok = uint64(expected) == st.Last
	}
	if ok {
		return nil
	}
	return &ConcurrencyError{Stream: stream, Expected: expected, Actual: st.Last}
}

// Deleted returns the metadata that soft-deletes a stream whose last version
// is last: TruncateBefore just past it, MaxCount kept.
func (md StreamMetadata) Deleted(last uint64) StreamMetadata {
	md.TruncateBefore = last + 1
	return md
}

// ValidateDelete checks a DeleteStream call before any I/O: the stream
// name must not be empty and the expectation must be a known one.
func ValidateDelete(stream string, expected ExpectedVersion) error {
	if stream == "" {
		return fmt.Errorf("delete: empty stream name: %w", ErrInvalidAppend)
	}
	if expected < StreamExists {
		return fmt.Errorf("delete %s: unknown expectation %d: %w", stream, int64(expected), ErrInvalidAppend)
	}
	return nil
}

// Snapshot is a stream's folded state at a version, so loading an aggregate
// reads the snapshot and only the events after it.
type Snapshot struct {
	// Stream is the stream the state was folded from.
	Stream string `json:"stream"`
	// Version is the last event folded into Data.
	Version uint64 `json:"version"`
	// Type names the state's schema.
	Type string `json:"type"`
	// SchemaVersion is the version of Type's schema Data was written with,
	// so a reader can tell a snapshot it cannot decode and rebuild instead.
	SchemaVersion int `json:"schemaVersion,omitempty"`
	// Data is the state, JSON by convention.
	Data json.RawMessage `json:"data"`
	// Time is when the store saved the snapshot, from the store's clock.
	Time time.Time `json:"time"`
}

// Clone returns a deep copy.
func (s Snapshot) Clone() Snapshot {
	if s.Data != nil {
		s.Data = append(json.RawMessage(nil), s.Data...)
	}
	return s
}

// ValidateSnapshot checks a snapshot against the stream's last version:
// the version must be between 1 and last, and the stream name set. The
// error wraps ErrInvalidSnapshot.
func ValidateSnapshot(snap Snapshot, last uint64) error {
	switch {
	case snap.Stream == "":
		return fmt.Errorf("save snapshot: empty stream name: %w", ErrInvalidSnapshot)
	case snap.Version == 0:
		return fmt.Errorf("save snapshot %s: version 0: %w", snap.Stream, ErrInvalidSnapshot)
	case snap.Version > last:
		return fmt.Errorf("save snapshot %s: version %d is past the stream's last version %d: %w", snap.Stream, snap.Version, last, ErrInvalidSnapshot)
	}
	return nil
}

// Filter selects events for a subscription. An event passes when its
// stream starts with one of StreamPrefixes (or StreamPrefixes is empty)
// and its type is one of EventTypes (or EventTypes is empty).
type Filter struct {
	StreamPrefixes []string `json:"streamPrefixes,omitempty"`
	EventTypes     []string `json:"eventTypes,omitempty"`
}

// Empty reports whether the filter passes everything.
func (f Filter) Empty() bool { return len(f.StreamPrefixes) == 0 && len(f.EventTypes) == 0 }

// Match reports whether e passes the filter.
func (f Filter) Match(e event.Envelope) bool {
	if len(f.StreamPrefixes) > 0 {
		ok := false
		for _, p := range f.StreamPrefixes {
			if strings.HasPrefix(e.Stream, p) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.EventTypes) > 0 {
		for _, t := range f.EventTypes {
			if e.Type == t {
				return true
			}
		}
		return false
	}
	return true
}

// SubscribeOption configures a subscription.
type SubscribeOption func(*SubscribeConfig)

// SubscribeConfig is the options of a subscription, for backends.
type SubscribeConfig struct {
	Filter Filter
}

// WithFilter makes the store send only the events f passes.
func WithFilter(f Filter) SubscribeOption {
	return func(c *SubscribeConfig) { c.Filter = f }
}

// SubscribeOptions applies opts, for backends.
func SubscribeOptions(opts ...SubscribeOption) SubscribeConfig {
	var c SubscribeConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}
