package amqpbus

import "errors"

var (
	// ErrNoURL is returned by New without a broker URL.
	ErrNoURL = errors.New("amqpbus: no broker url")
	// ErrNoTopic is returned when publishing a message without a topic or
	// subscribing to an empty topic name: the topic names the exchange.
	ErrNoTopic = errors.New("amqpbus: no topic")
	// ErrNoGroup is returned by Subscribe without a consumer group: the
	// group names the queue that its members share.
	ErrNoGroup = errors.New("amqpbus: no consumer group")
	// ErrNilMessage is returned when publishing a nil message.
	ErrNilMessage = errors.New("amqpbus: nil message")
	// ErrNacked is returned when the broker answered a publish with a
	// basic.nack: it definitely did not take the message (the outcome is
	// known, unlike bus.ErrOutcomeUnknown).
	ErrNacked = errors.New("amqpbus: broker nacked publish")
	// ErrNotConnected is returned when a publish or subscribe found no live,
	// answering connection before its context ended: nothing was published.
	ErrNotConnected = errors.New("amqpbus: not connected")
	// ErrRevoked is returned when settling a delivery whose channel is gone
	// (the subscription ended or the connection dropped): the broker has
	// already put the message back, so this late settle must not count.
	ErrRevoked = errors.New("amqpbus: delivery revoked")
)
