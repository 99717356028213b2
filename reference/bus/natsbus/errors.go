package natsbus

import "errors"

var (
	// ErrNoURL is returned by New without a server URL.
	ErrNoURL = errors.New("natsbus: no server url")
	// ErrNoTopic is returned when publishing a message without a topic or
	// subscribing to an empty topic name.
	ErrNoTopic = errors.New("natsbus: no topic")
	// ErrBadTopic is returned for a topic that cannot be a NATS subject
	// suffix: whitespace, wildcards ('*', '>') or empty dot-separated tokens.
	ErrBadTopic = errors.New("natsbus: topic is not a valid subject suffix")
	// ErrNoGroup is returned by Subscribe without a consumer group: the group
	// names the durable consumer, so without one there is nothing to share.
	ErrNoGroup = errors.New("natsbus: no consumer group")
	// ErrNilMessage is returned when publishing a nil message.
	ErrNilMessage = errors.New("natsbus: nil message")
	// ErrBadOption is returned by New for an option value out of range.
	ErrBadOption = errors.New("natsbus: bad option")
)
