// Package outbox is the transactional outbox relay of the reference system:
// it publishes the events appended to an event store to a bus, at least
// once and in the store's global order (and therefore in each stream's
// order), resuming after a crash from a checkpoint.
//
// The store is the outbox: an event is "in the outbox" as soon as its
// append commits, in the same write as the state change it records, so
// there is no window in which state changed but nothing will be published
// (invariant 12, outbox atomicity). The relay tails the store's global log
// with SubscribeAll (catch-up, then live) and publishes batches through a
// bus.Publisher whose Publish returns only once the broker confirmed.
//
// # Why the checkpoint is saved after the confirmed publish
//
// The Checkpoint holds the global position of the last event the broker
// confirmed. Saving it only after Publish returned nil makes the relay
// at-least-once: a crash between the publish and the save republishes the
// events after the checkpoint, but no event is ever skipped. Saving first
// would turn the same crash into silent loss: the checkpoint would claim
// events the broker never got. The duplicates a crash can cause are bounded
// by the checkpoint interval (every N events, or every interval on the
// injected clock, and whenever the relay stops cleanly), and consumers
// absorb them with an inbox (bus.Dedup): the message ID is the event ID, so
// a republished event is recognised as the same message.
//
// Two relays must not share one checkpoint at the same time: each would
// publish everything, and their saves would interleave. Run refuses a
// second concurrent Run on the same Relay; across processes, run one relay
// per checkpoint (a FileCheckpoint's directory is not locked).
package outbox
