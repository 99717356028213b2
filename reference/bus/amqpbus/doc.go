// Package amqpbus implements bus.Bus over RabbitMQ (AMQP 0-9-1) with
// github.com/rabbitmq/amqp091-go.
//
// Topology: a topic is a durable topic exchange of the same name, declared
// idempotently on first use. A consumer group is a durable queue named
// "<topic>.<group>" (QueueName) bound to it with "#": every group gets
// every message, and the members of a group share its queue (competing
// consumers). Queues are quorum queues by default (WithQueueType(Classic)
// for classic ones), optionally with a dead-letter exchange
// (DeadLetterExchange) and single active consumer (SingleActiveConsumer).
//
// Publishing: messages go persistent (delivery mode 2) on a confirm-mode
// channel and Publish returns once the broker confirmed every one. The ID
// travels in the AMQP message-id property, the key in the HeaderKey header
// and as the routing key, headers as AMQP string headers. A broker nack is a
// definite failure (ErrNacked); a channel or connection lost before the
// confirm, or ctx ending while waiting for it, is bus.ErrOutcomeUnknown.
//
// Consuming: manual acks, prefetch (default 16) bounds the unacked
// deliveries per subscription. Ack is basic.ack; Nack without requeue is
// basic.nack requeue=false, which the broker dead-letters where a
// dead-letter exchange is configured. Nack(requeue) requeues in place by
// default: the message stays unacked on the subscription's channel and is
// handed out again before anything later of its key, with
// bus.HeaderAttempt counting the local requeues on top of the broker's
// count (a quorum queue's x-delivery-count + 1). BrokerRequeue makes it
// basic.nack requeue=true instead, so another member may take the message
// and a quorum queue's delivery-limit counts it.
//
// Why in place by default (issue 10, BenchmarkRequeueStorm: one key's
// 50-message backlog, prefetch 16, wait from a requeue to the key's next
// delivery, RabbitMQ 3.10): in place 6–50 µs on either queue type; broker
// requeue on a classic queue 0.18 ms (the message goes back to its
// place); on a quorum queue with prefetch 64, above the backlog, 0.56 ms;
// on a quorum queue with prefetch 16 — the old default — 5.0 s, every
// time. A quorum queue puts a requeued message at the back, the key's
// held backlog fills the prefetch window, the message cannot come back,
// and the hold waits out RequeueWait: three subscribers nacking 100 times
// each did not finish in 12 minutes. The conformance suite's
// RequeueStorm case catches that stall.
//
// Guarantee profile:
//   - Loss: none for confirmed publishes to a topic whose group queues
//     existed at publish time (durable quorum queues survive a broker kill).
//     An exchange keeps nothing: a group whose queue is declared after a
//     publish never sees that message. Declare groups first (DeclareGroup,
//     ProvisionGroups) or subscribe before publishing. A publish that
//     returns bus.ErrOutcomeUnknown may or may not have been taken.
//   - Duplicates: at-least-once. An unacked delivery whose channel or
//     connection drops is redelivered (its late Ack returns ErrRevoked), and
//     a retried ErrOutcomeUnknown publish may duplicate.
//   - Order: per key within a group with one member (or
//     SingleActiveConsumer): a subscription has at most one unsettled
//     delivery per key, and a requeue in place comes back first. With
//     BrokerRequeue the subscription holds the key's later messages until
//     the requeued one comes back (a classic queue puts it back at its
//     position; a quorum queue at the back, so the hold keeps order only
//     while the key's backlog fits in the prefetch window, and otherwise
//     ends after RequeueWait with the key reordered). With several members
//     a broker-requeued message can go to another member, and members race
//     each other, so order across members is not promised. After a lost
//     connection or a closed subscription unacked messages are redelivered
//     (a quorum queue puts them at the back, after what was not yet
//     delivered).
//   - Broker crash: confirmed persistent messages on classic durable
//     queues and on quorum queues survive a SIGKILL and restart of the
//     broker (TestRestartNoLoss: eight publishers, kill mid-loop, no
//     confirmed message lost; TestReconnectAfterKill). Measured on a
//     single-node RabbitMQ 3.10, and only for queues whose declaration
//     reached disk first (those tests bounce the broker gracefully after
//     declaring): a quorum queue declared shortly before a SIGKILL loses
//     its registration (names.dets is not synced: "running pre init for 0
//     registered servers" on restart), never gets a leader again, and
//     publishes routed to it stay unconfirmed (outcome unknown: none of
//     them was confirmed within 3 s in 90 s after the restart). That is the
//     broker's durability gap, not this package's; declare groups well
//     ahead of a crash that matters.
//
// Reconnect: the Bus watches its connection (NotifyClose) and redials with
// backoff (Reconnect); subscriptions consume again on the new connection
// without closing their channels, and publishes wait for it (up to their
// ctx, then ErrNotConnected: nothing was sent).
package amqpbus
