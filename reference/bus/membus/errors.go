package membus

import "errors"

var (
	// ErrNoTopic is returned when publishing a message without a topic.
	ErrNoTopic = errors.New("membus: message has no topic")
	// ErrNilMessage is returned when publishing a nil message.
	ErrNilMessage = errors.New("membus: nil message")
	// ErrRevoked is returned when settling a delivery whose subscription has
	// ended: the message was handed back to the group and may already be
	// redelivered, so this late settle must not count (invariant 9).
	ErrRevoked = errors.New("membus: delivery revoked")
)
