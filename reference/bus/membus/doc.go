// Package membus is an in-memory broker implementing bus.Bus, for fast
// scenarios and as the behavioural baseline the conformance suite measures
// other brokers against.
//
// Each topic is a log split into partitions by a hash of the message key.
// Every consumer group reads every partition from the start; members of a
// group share partitions, and a partition has at most one unsettled
// delivery per group at a time, so per-key order holds within a group even
// across Nack(requeue) (the requeued message is delivered again before
// anything after it). The log is kept in memory for the Bus's lifetime;
// delivery allocates nothing per message beyond the log, and a slow consumer
// simply stops its partitions from advancing.
package membus
