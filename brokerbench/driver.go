package brokerbench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// driver is one client, bare or edkit, on one broker, for one run's fresh
// topic (and its stream, queue and consumer group).
type driver interface {
	// library names the code under test.
	library() string
	// setup creates what the run needs before any client starts: the
	// topic with its partitions, the stream, the group's queue.
	setup(ctx context.Context) error
	// producer opens one producer client (its own connection).
	producer(ctx context.Context) (producer, error)
	// consumer opens one member of the run's consumer group (its own
	// connection), subscribed for as long as ctx lives.
	consumer(ctx context.Context) (consumer, error)
	// teardown deletes what setup and the run made.
	teardown(ctx context.Context) error
}

// message is one message as the workload makes it; each driver turns it
// into its own client's type.
type message struct {
	id, key string
	payload []byte
}

type producer interface {
	// publish returns once the broker acknowledged every message of batch.
	// The batch's buffers are reused after it returns.
	publish(ctx context.Context, batch []message) error
	close() error
}

type consumer interface {
	// next waits for the next message and returns the send time its
	// payload carries (unix nanoseconds; 0 for a warm-up message).
	next(ctx context.Context) (int64, error)
	// ack acknowledges the message next returned last.
	ack(ctx context.Context) error
	close() error
}

// errSubscriptionEnded is a consumer whose subscription closed under it.
var errSubscriptionEnded = errors.New("brokerbench: subscription ended")

// stampLen is the send time's size at the payload's start.
const stampLen = 8

func putStamp(payload []byte, unixNano int64) {
	binary.BigEndian.PutUint64(payload, uint64(unixNano))
}

// stamp reads a payload's send time; a payload too short for one (no
// message of this package's) reads as a warm-up message.
func stamp(payload []byte) int64 {
	if len(payload) < stampLen {
		return 0
	}
	return int64(binary.BigEndian.Uint64(payload))
}

// stampString is stamp for clients that hand payloads out as strings,
// without copying them.
func stampString(payload string) int64 {
	if len(payload) < stampLen {
		return 0
	}
	var v uint64
	for i := range stampLen {
		v = v<<8 | uint64(payload[i])
	}
	return int64(v)
}

// names are one run's fresh topic and its consumer group: nothing another
// run (or the other client) published can reach it.
type names struct{ topic, group string }

func freshNames(c Client) names {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return names{topic: "bench-" + string(c) + "-" + hex.EncodeToString(b[:]), group: "bench"}
}
