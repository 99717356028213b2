package bus

import (
	"context"
	"fmt"
	"sync"
)

// Inbox remembers which message IDs a consumer group has processed, so a
// redelivered or duplicated message has its effect once (invariant 8).
//
// Begin claims msgID for group: first is true when the caller now owns it
// and must run the handler and then call Done (success) or Abort (failure,
// so a redelivery can try again). first is false with a nil error when the
// message was already processed. When another delivery holds the claim,
// Begin returns an error wrapping ErrInFlight: the caller must not ack, since
// the holder may still abort.
type Inbox interface {
	Begin(ctx context.Context, group, msgID string) (first bool, err error)
	Done(ctx context.Context, group, msgID string) error
	Abort(ctx context.Context, group, msgID string) error
}

type inboxKey struct{ group, id string }

// MemoryInbox is an Inbox held in memory: exact and fast, but forgotten on
// restart, and a claim held by a crashed handler is never released (durable
// inboxes need a lease; this one serves single-process tests).
type MemoryInbox struct {
	mu     sync.Mutex
	states map[inboxKey]bool // false: claimed, true: done
}

var _ Inbox = (*MemoryInbox)(nil)

// NewMemoryInbox returns an empty inbox.
func NewMemoryInbox() *MemoryInbox {
	return &MemoryInbox{states: make(map[inboxKey]bool)}
}

// Begin claims msgID for group; see Inbox.
func (in *MemoryInbox) Begin(_ context.Context, group, msgID string) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	k := inboxKey{group, msgID}
	done, seen := in.states[k]
	switch {
	case !seen:
		in.states[k] = false
		return true, nil
	case done:
		return false, nil
	default:
		return false, fmt.Errorf("inbox %s/%s: %w", group, msgID, ErrInFlight)
	}
}

// Done records msgID as processed and releases the claim.
func (in *MemoryInbox) Done(_ context.Context, group, msgID string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.states[inboxKey{group, msgID}] = true
	return nil
}

// Abort releases the claim without recording the message, so a later
// delivery runs the handler again.
func (in *MemoryInbox) Abort(_ context.Context, group, msgID string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	k := inboxKey{group, msgID}
	if done := in.states[k]; !done {
		delete(in.states, k)
	}
	return nil
}

// Processed reports whether msgID is recorded as done for group, for tests
// and checkers comparing the inbox with the history.
func (in *MemoryInbox) Processed(group, msgID string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.states[inboxKey{group, msgID}]
}

// DedupOption configures Dedup.
type DedupOption func(*dedupConfig)

type dedupConfig struct {
	onDuplicate func(ctx context.Context, m *Message)
}

// OnDuplicate calls fn for each message Dedup skips as already processed, so
// a recorder can count suppressed duplicates.
func OnDuplicate(fn func(ctx context.Context, m *Message)) DedupOption {
	return func(c *dedupConfig) { c.onDuplicate = fn }
}

// Dedup runs the handler at most once per message ID per group, as recorded
// by inbox: a processed message is skipped (and acked), a failed one is
// released for redelivery, and one being handled elsewhere returns an error
// wrapping ErrInFlight so it is retried rather than acked. Place it inside
// Retry so each attempt claims afresh.
func Dedup(inbox Inbox, group string, opts ...DedupOption) Middleware {
	var cfg dedupConfig
	for _, o := range opts {
		o(&cfg)
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) error {
			first, err := inbox.Begin(ctx, group, m.ID)
			if err != nil {
				return err
			}
			if !first {
				if cfg.onDuplicate != nil {
					cfg.onDuplicate(ctx, m)
				}
				return nil
			}
			// Settle the claim even when ctx is cancelled mid-handler: a
			// leaked claim would block every redelivery.
			sctx := context.WithoutCancel(ctx)
			if herr := next(ctx, m); herr != nil {
				if aerr := inbox.Abort(sctx, group, m.ID); aerr != nil {
					return fmt.Errorf("%w (inbox abort: %w)", herr, aerr)
				}
				return herr
			}
			if err := inbox.Done(sctx, group, m.ID); err != nil {
				return fmt.Errorf("inbox done %s/%s: %w", group, m.ID, err)
			}
			return nil
		}
	}
}
