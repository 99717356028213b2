// Package cqrs is the write side of CQRS for the reference system: an
// aggregate is a Decider (initial state, evolve by event, decide on a
// command), a Repository loads it by folding its stream, and a Handler
// dispatches commands with optimistic concurrency and idempotency by command
// ID.
//
// The Handler is built for at-least-once delivery of commands: events get
// deterministic IDs (command ID + "/" + index) and carry the command ID in
// their metadata, so a redelivered command is answered from the stream
// instead of being decided again, and a retried append is recognised by the
// store. A lost optimistic-concurrency race reloads and decides again, a
// bounded number of times.
//
// On the read side, a ProjectionRunner keeps a read model up to date from
// the store's global log across restarts: each event's writes and the new
// checkpoint go into Storage in one atomic Put, and an event at or below
// the checkpoint is skipped, so a crash anywhere neither loses an event
// (checkpoint moved before the writes) nor applies one twice (writes, then
// a crash before the checkpoint). scenarios/fixture's crash test
// (ForCheckpointed) proves it by crashing at every write.
package cqrs
