package kafkabus

import "errors"

var (
	// ErrNoBrokers is returned by New without broker addresses.
	ErrNoBrokers = errors.New("kafkabus: no brokers")
	// ErrNoTopic is returned when publishing a message without a topic or
	// subscribing to an empty topic name.
	ErrNoTopic = errors.New("kafkabus: no topic")
	// ErrNoGroup is returned by Subscribe without a consumer group: a
	// group-less reader would neither share partitions nor commit.
	ErrNoGroup = errors.New("kafkabus: no consumer group")
	// ErrNilMessage is returned when publishing a nil message.
	ErrNilMessage = errors.New("kafkabus: nil message")
	// ErrRevoked is returned when settling a delivery whose subscription has
	// ended, or whose partition a rebalance gave to another member: its
	// offset was not committed, so the group will deliver it again, and
	// this late settle must not count (invariant 9).
	ErrRevoked = errors.New("kafkabus: delivery revoked")
)
