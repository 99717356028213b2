package eventstore

import (
	"context"
	"sync"

	"github.com/edkit-dev/edkit/reference/event"
)

// ExpectedVersion states what the caller believes about a stream when it
// appends. Exact versions are >= 0 (0 meaning "the stream exists with no
// events" is not used: an empty stream does not exist); the negative values
// are the named expectations below.
type ExpectedVersion int64

const (
	// Any appends whatever the stream's state.
	Any ExpectedVersion = -1
	// NoStream requires that the stream has no events yet.
	NoStream ExpectedVersion = -2
	// StreamExists requires that the stream has at least one event.
	StreamExists ExpectedVersion = -3
)

// Exact expects the stream's last event to be at version v (v >= 1).
func Exact(v uint64) ExpectedVersion { return ExpectedVersion(v) }

// AppendResult reports where an append landed.
type AppendResult struct {
	// NextExpected is the stream's version after the append.
	NextExpected uint64
	// Position is the global position of the last appended event.
	Position uint64
}

// Store is the event store contract every backend implements.
//
// Appends are atomic: all events of one call are written or none. Reads return
// copies; callers may keep and modify them.
//
// Stream metadata (max count, truncate-before, soft delete) is honoured by
// the stream reads (ReadStream, ReadStreamBackwards, SubscribeStream's
// catch-up), as EventStoreDB honours it; the global log (ReadAll,
// SubscribeAll) keeps every event, as EventStoreDB's $all does until a
// scavenge, so a projection replaying the log sees what really happened.
type Store interface {
	// Append writes events to stream if expected holds, else returns a
	// *ConcurrencyError. Retrying an append whose event IDs are all already
	// stored at the same expected version succeeds without writing twice.
	// Appending to a soft-deleted stream recreates it: versions continue
	// from where they left off and the deleted events stay hidden.
	Append(ctx context.Context, stream string, expected ExpectedVersion, events ...event.Envelope) (AppendResult, error)
	// ReadStream returns up to limit events of stream with Version >= from
	// (from 1 is the start), in version order, skipping the events its
	// metadata hides. A stream that does not exist, or is soft-deleted,
	// returns ErrStreamNotFound.
	ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error)
	// ReadStreamBackwards returns up to limit events of stream with
	// Version <= from, newest first; from = End (or any version past the
	// last) starts at the newest event. Metadata and missing streams are
	// treated as by ReadStream.
	ReadStreamBackwards(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error)
	// ReadAll returns up to limit events with Position >= from in global order.
	ReadAll(ctx context.Context, from uint64, limit int) ([]event.Envelope, error)
	// SubscribeAll delivers every event with Position >= from, first those
	// already stored (catch-up), then new ones as they are appended (live),
	// with no gap or duplicate at the switch-over. The channel closes when ctx
	// is done or the store closes; Err on the subscription says why. A
	// Filter option selects events inside the store, so a subscriber to one
	// event type is not sent the rest of the log. The channel is small and
	// the feed blocks on it: a slow subscriber holds the feed back instead
	// of making the store buffer events for it.
	SubscribeAll(ctx context.Context, from uint64, opts ...SubscribeOption) (*Subscription, error)
	// SubscribeStream delivers stream's events with Version >= from (from 1
	// is the start), catch-up then live, like SubscribeAll. Catch-up skips
	// what the stream's metadata hides; live delivery sends every new event.
	// The stream need not exist yet.
	SubscribeStream(ctx context.Context, stream string, from uint64) (*Subscription, error)
	// SetStreamMetadata replaces stream's metadata. The stream need not
	// exist; metadata set first applies once it does.
	SetStreamMetadata(ctx context.Context, stream string, md StreamMetadata) error
	// StreamMetadata returns stream's metadata, the zero value when none
	// was set.
	StreamMetadata(ctx context.Context, stream string) (StreamMetadata, error)
	// DeleteStream soft-deletes stream if expected holds (else a
	// *ConcurrencyError): it sets TruncateBefore past the last event and
	// drops the stream's snapshot. Reads then return ErrStreamNotFound; the
	// events stay in the global log. Deleting a stream that has no events
	// returns ErrStreamNotFound; deleting it again is a no-op.
	DeleteStream(ctx context.Context, stream string, expected ExpectedVersion) error
	// SaveSnapshot stores snap as stream's latest snapshot, unless a
	// snapshot at a later version is already stored (then it is a no-op).
	// snap.Version must be between 1 and the stream's version, else
	// ErrInvalidSnapshot.
	SaveSnapshot(ctx context.Context, snap Snapshot) error
	// LoadSnapshot returns stream's latest snapshot, or ErrSnapshotNotFound.
	LoadSnapshot(ctx context.Context, stream string) (Snapshot, error)
	// Close releases the store; later calls return ErrClosed. Idempotent.
	Close() error
}

// Subscription is a stream of events. C closes when the subscription ends.
type Subscription struct {
	// C delivers events in global order.
	C   <-chan event.Envelope
	err func() error
}

// Feed is for backends: it runs feed on its own goroutine with a channel of
// buffer events, closes the channel when feed returns, and makes feed's
// return value the subscription's Err. done, when not nil, runs after the
// channel is closed (a backend's wait-group Done, so Close returns only once
// every subscription channel is closed).
func Feed(buffer int, feed func(out chan<- event.Envelope) error, done func()) *Subscription {
	out := make(chan event.Envelope, buffer)
	var (
		mu     sync.Mutex
		reason error
	)
	go func() {
		why := feed(out)
		mu.Lock()
		reason = why
		mu.Unlock()
		close(out)
		if done != nil {
			done()
		}
	}()
	return NewSubscription(out, func() error {
		mu.Lock()
		defer mu.Unlock()
		return reason
	})
}

// NewSubscription is for backends: errFn reports why C closed.
func NewSubscription(c <-chan event.Envelope, errFn func() error) *Subscription {
	return &Subscription{C: c, err: errFn}
}

// Err reports why C closed: nil while it is open, the context's error when
// the subscriber cancelled, ErrClosed when the store closed.
func (s *Subscription) Err() error {
	if s.err == nil {
		return nil
	}
	return s.err()
}

// PollFeed is for backends: the catch-up-then-live loop of a subscription
// over a store that can read a batch after a cursor and signal new writes.
// read returns the events to send after cursor next, the cursor to go on
// from, and a channel closed by the next write, taken before the read so a
// write in between is never missed; an error ends the loop (ErrClosed when
// the store closed). PollFeed sends each batch to out, waits on wake when
// the cursor did not move, and returns when ctx is done, done (the store's
// close) is closed, or read fails.
func PollFeed(ctx context.Context, done <-chan struct{}, next uint64,
	read func(next uint64) (batch []event.Envelope, after uint64, wake <-chan struct{}, err error),
	out chan<- event.Envelope) error {
	for {
		batch, after, wake, err := read(next)
		if err != nil {
			return err
		}
		for _, e := range batch {
			select {
			case out <- e:
			case <-ctx.Done():
				return ctx.Err()
			case <-done:
				return ErrClosed
			}
		}
		if after != next {
			next = after
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return ErrClosed
		}
	}
}
