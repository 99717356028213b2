// Package kafkabus implements bus.Bus over Kafka with
// github.com/segmentio/kafka-go.
//
// Publishing is synchronous and confirmed by all in-sync replicas
// (RequiredAcks = all); the key picks the partition (hash balancer), so one
// key's messages stay ordered in one partition. The message ID and headers
// travel as Kafka headers (HeaderID for the ID). A publish that fails by
// timeout, network error or cancellation returns an error wrapping
// bus.ErrOutcomeUnknown: Kafka may or may not have the messages.
//
// Each Subscribe is one consumer-group member (one kafka.Reader). Fetched
// messages are queued per partition and each partition has at most one
// unsettled delivery at a time, so offsets are committed strictly in order
// (never past an unsettled message) and Nack(requeue) delivers the same
// message again before anything later in its partition. Ack and Nack without
// requeue commit the offset synchronously before returning.
package kafkabus
