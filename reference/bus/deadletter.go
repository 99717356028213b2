package bus

import (
	"context"
	"fmt"
	"strconv"
)

// DeadLetterOption configures DeadLetter.
type DeadLetterOption func(*deadLetterConfig)

type deadLetterConfig struct {
	observe func(ctx context.Context, m *Message, reason string, attempts int)
}

// OnDeadLetter calls fn after each message is published to the dead-letter
// topic, so a recorder can account for it (produced = processed +
// dead-lettered). m is the dead-letter copy with its DLQ headers.
func OnDeadLetter(fn func(ctx context.Context, m *Message, reason string, attempts int)) DeadLetterOption {
	return func(c *deadLetterConfig) { c.observe = fn }
}

// DeadLetter publishes a message whose handler failed to dlqTopic and then
// reports success so the delivery is acked: a poison message stops blocking
// its key. The copy keeps the message's ID, key, payload and headers and adds
// HeaderDLQReason, HeaderDLQAttempts (from Retry's error, else 1),
// HeaderDLQOriginalTopic and HeaderDLQGroup.
//
// If the dead-letter publish fails, DeadLetter returns an error wrapping both
// failures, so the delivery is nacked: nothing is dropped silently.
func DeadLetter(pub Publisher, dlqTopic, group string, opts ...DeadLetterOption) Middleware {
	var cfg deadLetterConfig
	for _, o := range opts {
		o(&cfg)
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) error {
			herr := next(ctx, m)
			if herr == nil {
				return nil
			}
			reason := herr.Error()
			attempts := Attempts(herr)
			dl := m.Clone()
			dl.Topic = dlqTopic
			dl.SetHeader(HeaderDLQReason, reason)
			dl.SetHeader(HeaderDLQAttempts, strconv.Itoa(attempts))
			dl.SetHeader(HeaderDLQOriginalTopic, m.Topic)
			dl.SetHeader(HeaderDLQGroup, group)
			if err := pub.Publish(ctx, dl); err != nil {
				return fmt.Errorf("dead-letter %s to %s: %w (handler: %w)", m.ID, dlqTopic, err, herr)
			}
			if cfg.observe != nil {
				cfg.observe(ctx, dl, reason, attempts)
			}
			return nil
		}
	}
}
