// Package natsbus implements bus.Bus over NATS JetStream with
// github.com/nats-io/nats.go/jetstream.
//
// Layout: one stream per topic. Topic t is the subject "<prefix>.<t>"
// (prefix "edkit" by default) and is stored in the stream
// "<prefix>_<sanitized t>_<hash>" (stream names cannot hold dots), with
// limits retention, so every consumer group reads the whole topic from its
// start. One stream per topic keeps JetStream's duplicate window per topic:
// the same message ID on two topics (a message and its dead-letter copy) is
// two messages.
//
// Publishing sends every message asynchronously with the Nats-Msg-Id
// header set to the message ID and then waits for every PubAck, so Publish
// returns nil only once the stream stored (or, within the duplicate window,
// had already stored) each message. Republishing an ID inside the window
// stores it once. A publish that timed out, lost its connection or was
// cancelled while awaiting acks returns an error wrapping
// bus.ErrOutcomeUnknown. The key travels in the HeaderKey header; the other
// headers as NATS headers, case preserved (NATS interprets headers named
// Nats-*; do not use them for application data).
//
// Subscribe(topic, group) binds to a durable pull consumer named after the
// group (AckExplicit, DeliverAll, AckWait and MaxDeliver from options):
// every group gets every message, and the members of one group, in this or
// other processes, share the durable's messages. Ack is a confirmed
// DoubleAck; Nack(requeue) is a confirmed -NAK (JetStream redelivers,
// incrementing the delivery count, which each delivery carries in
// bus.HeaderAttempt); Nack without requeue is a confirmed +TERM.
// A delivery can still be settled after its subscription ended (JetStream
// settles by the message's reply subject), until AckWait hands it on.
//
// Guarantee profile:
//   - Loss: none for acknowledged publishes (file storage by default). A
//     message terminated by Nack(false), or that reached MaxDeliver, is not
//     delivered again; with DeadLetterTopic it is copied to the DLQ topic.
//   - Duplicates: at-least-once. An unacked delivery is redelivered after
//     AckWait or when its subscription ends; an ack whose confirmation was
//     lost may still redeliver. Publishing the same ID after the duplicate
//     window stores it again.
//   - Order: per key, within one subscription. A subscription keeps at most
//     one unsettled delivery per key and holds later messages of the key
//     behind it; after Nack(requeue) it waits for the server's redelivery of
//     that message before releasing anything later of its key. If the
//     redelivery does not come within RedeliveryWait (it went to another
//     member of the group, or MaxDeliver ended it) the key moves on. Across
//     several members of one group JetStream hands messages to whichever
//     member pulls, so per-key order is not promised there, nor for a
//     message held past AckWait (JetStream then redelivers it).
//   - Dead-lettering with DeadLetterTopic and MaxDeliver: the server's
//     MAX_DELIVERIES advisory is a core NATS message, received by one bus of
//     those subscribed to the group (a queue subscription). If no bus of the
//     group is connected when it fires, that message is not dead-lettered.
//     The DLQ copy keeps the original ID, so the DLQ stream's duplicate
//     window folds repeats of it into one entry.
//
// Back-pressure: each subscription buffers at most MaxBuffered fetched
// messages (twice that while a key awaits a redelivery) plus one pull batch
// (PullBatch), and the consumer's MaxAckPending caps what the server hands
// out unacknowledged.
package natsbus
