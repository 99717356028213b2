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
// Each Subscribe is one consumer-group member (a kafka.ConsumerGroup, with
// one partition reader per assigned partition). Fetched messages are
// queued per partition and handed out in offset order, at most
// MaxInFlightPerPartition unsettled at a time (default 1) and never two
// unsettled with the same non-empty key, so concurrent handlers still
// settle one key's messages in order. Nack(requeue) delivers the same
// message again before anything later of its key.
//
// Ack and Nack without requeue record the settle and return; they do not
// wait for Kafka. A committer goroutine commits, per partition, the end of
// the settled prefix (never past an unsettled or requeued offset), one
// request at a time carrying every settle since the last one, and at most
// every CommitInterval. When the subscription ends it makes a final commit
// before its channel closes, so the next member starts after what was
// acked. Offsets are committed only after their ack; a crash, or a commit
// that fails, loses no message but may deliver acked ones again
// (at-least-once), at most what was settled since the last commit.
//
// Rebalances: offsets are committed only through the generation that
// assigns the partition. When a generation ends the member stops handing
// out, commits what is settled and only then lets the group rebalance.
// In the next generation it keeps a partition assigned to it again at the
// offset it last committed (its queue and unsettled deliveries stay
// valid); any other partition it had is revoked: its queue is dropped and
// settling one of its unsettled deliveries returns ErrRevoked and commits
// nothing, so a late settle never moves the group's offset back and the
// new owner redelivers the message. A settle made between the two
// generations of a partition that is then revoked returns nil but is not
// committed either.
package kafkabus
