// Package brokerbench runs broker workloads shaped like the OpenMessaging
// Benchmark's (produce-only, consume-only from a backlog, and
// produce-consume, with N producers and consumers, a message size,
// partitions, batching and a rate) twice on the same broker: once with the
// plain client library used directly (kafka-go, nats.go, go-redis,
// amqp091-go) and once with edkit's bus backend for that broker (kafkabus,
// natsbus, redisbus, amqpbus). Both runs report messages/s, MB/s, publish
// latency and end-to-end latency percentiles from HDR histograms, and
// Compare reports edkit's figures over the bare client's, so edkit's cost
// is read beside its baseline from one run, as DESIGN.md asks.
//
// Fairness: the bare clients use the settings and guarantees the edkit
// backends use (acks from all replicas, PubAcks, publisher confirms,
// persistent messages, double acks, quorum queues), so the ratio is the
// cost of edkit's layer, not of a weaker promise. Each client gets fresh
// names (topic, stream, queue), its own connection per producer and per
// consumer, and a warm-up that waits until every consumer received a
// message, so a settling consumer group neither redelivers nor delays the
// measured messages. The bare client runs first.
//
// Memory stays flat with the run's length: counters and fixed-size
// histograms only.
package brokerbench
