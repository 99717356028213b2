// Package bus is the messaging contract of the reference system: messages,
// deliveries with ack/nack, publishers with confirmed outcomes, subscribers
// with consumer groups, and the middleware chain (retry, dead-letter,
// inbox deduplication, fault hooks) that sits between a delivery and a
// handler. Backends live in subpackages: membus (in memory) and kafkabus
// (Kafka through segmentio/kafka-go).
package bus
