package redisbus

import "errors"

var (
	// ErrNoAddr is returned by New without a server address.
	ErrNoAddr = errors.New("redisbus: no server address")
	// ErrBadOption is returned by New when an option is out of range.
	ErrBadOption = errors.New("redisbus: bad option")
	// ErrNoTopic is returned when publishing a message without a topic or
	// subscribing to an empty topic name.
	ErrNoTopic = errors.New("redisbus: no topic")
	// ErrNoGroup is returned by Subscribe without a consumer group: Redis
	// Streams only track pending entries (and so redelivery) per group.
	ErrNoGroup = errors.New("redisbus: no consumer group")
	// ErrNilMessage is returned when publishing a nil message.
	ErrNilMessage = errors.New("redisbus: nil message")
	// ErrRevoked is returned when settling a delivery whose subscription has
	// ended: its entry was released back to the group (still pending, so
	// another member reclaims and redelivers it), and this late settle must
	// not count as processing it.
	ErrRevoked = errors.New("redisbus: delivery revoked")
	// ErrAckPending is returned by Ack (and Nack without requeue) when the
	// XACK failed: the delivery is settled as processed and the
	// subscription retries the XACK until Redis takes it, or releases the
	// entry when it ends (another member then redelivers it).
	ErrAckPending = errors.New("redisbus: ack not confirmed, retried by the subscription")
)
