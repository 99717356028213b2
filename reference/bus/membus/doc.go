// Package membus is an in-memory broker implementing bus.Bus, for fast
// scenarios and as the behavioural baseline the conformance suite measures
// other brokers against.
//
// Each topic is a log split into partitions by a hash of the message key.
// Every consumer group reads every partition from the start; members of a
// group share partitions, and a partition has at most one unsettled
// delivery per group at a time, so per-key order holds within a group even
// across Nack(requeue) (the requeued message is delivered again before
// anything after it). Once every consumer group of a topic has
// settled a message, it is trimmed (keeping the last Retention per
// partition for groups that join later), so memory follows what is
// unsettled, not how long the Bus runs; delivery allocates nothing per
// message beyond the log, and a slow consumer simply stops its partitions
// from advancing (and holds the log from its position).
package membus
