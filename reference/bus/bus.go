package bus

import (
	"context"
)

// Message is what travels over the bus. ID identifies the message across
// redeliveries and duplicates: deduplication, DLQ entries and history
// records all key on it. Key decides ordering: messages with the same key
// on the same topic are delivered in publish order where the broker can
// promise it (Kafka partitions by key).
type Message struct {
	ID      string            `json:"id"`
	Topic   string            `json:"topic"`
	Key     string            `json:"key"`
	Payload []byte            `json:"payload"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Clone returns a deep copy, so a middleware that duplicates or delays a
// message never shares it with the original delivery.
func (m *Message) Clone() *Message {
	c := *m
	c.Payload = append([]byte(nil), m.Payload...)
	if m.Headers != nil {
		c.Headers = make(map[string]string, len(m.Headers))
		for k, v := range m.Headers {
			c.Headers[k] = v
		}
	}
	return &c
}

// Header returns the header value, or "" when absent (nil-safe).
func (m *Message) Header(k string) string {
	if m.Headers == nil {
		return ""
	}
	return m.Headers[k]
}

// SetHeader sets a header, allocating the map when needed.
func (m *Message) SetHeader(k, v string) {
	if m.Headers == nil {
		m.Headers = make(map[string]string)
	}
	m.Headers[k] = v
}

// Delivery is one delivery of a message to a subscriber. Exactly one of Ack
// or Nack settles it; settling twice returns ErrAlreadySettled.
type Delivery interface {
	// Message is the delivered message. Handlers must not modify it.
	Message() *Message
	// Ack settles the delivery as processed; the broker will not redeliver it.
	Ack(ctx context.Context) error
	// Nack settles the delivery as failed. With requeue the broker delivers it
	// again (to this or another consumer of the group); without, it is
	// discarded (or dead-lettered by the broker, where configured).
	Nack(ctx context.Context, requeue bool) error
}

// Publisher publishes messages with a confirmed outcome: Publish returns nil
// only once the broker has accepted every message. An error wrapping
// ErrOutcomeUnknown means the broker may or may not have them.
type Publisher interface {
	Publish(ctx context.Context, msgs ...*Message) error
	Close() error
}

// Subscriber hands out deliveries for a topic to a consumer group. Members of
// one group share the topic's messages; every group gets all of them. The
// channel closes when ctx is done or the subscriber closes.
type Subscriber interface {
	Subscribe(ctx context.Context, topic, group string) (<-chan Delivery, error)
	Close() error
}

// Bus is a Publisher and a Subscriber over one broker.
type Bus interface {
	Publisher
	Subscriber
}

// Handler processes one message. A nil error acks it; an error nacks it.
type Handler func(ctx context.Context, m *Message) error

// Middleware wraps a Handler with behaviour: retry, dead-lettering,
// deduplication, fault injection, recording.
type Middleware func(Handler) Handler

// Chain applies middlewares so that the first one listed is the outermost:
// Chain(h, a, b) runs a, then b, then h.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Well-known headers.
const (
	// HeaderType names the payload's type (an event or command type).
	HeaderType = "edkit-type"
	// HeaderSeq is the producer's per-key sequence number, from 1, so that
	// consumers and checkers can tell order without trusting the broker.
	HeaderSeq = "edkit-seq"
	// HeaderAttempt is the delivery attempt as counted by the consumer, from 1.
	HeaderAttempt = "edkit-attempt"
	// HeaderDLQReason is the error that dead-lettered a message.
	HeaderDLQReason = "edkit-dlq-reason"
	// HeaderDLQAttempts is how many attempts were made before dead-lettering.
	HeaderDLQAttempts = "edkit-dlq-attempts"
	// HeaderDLQOriginalTopic is the topic the message was consumed from.
	HeaderDLQOriginalTopic = "edkit-dlq-original-topic"
	// HeaderDLQGroup is the consumer group that gave up on the message.
	HeaderDLQGroup = "edkit-dlq-group"
)
