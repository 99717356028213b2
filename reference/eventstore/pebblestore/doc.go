// Package pebblestore is the durable embedded event store: an
// eventstore.Store on a Pebble LSM in one directory, for embedded runs that
// must survive a process crash and for measuring what durable appends cost.
//
// An append is acknowledged only after its Pebble batch is committed with
// pebble.Sync, so an acknowledged event survives a crash (kill -9, power
// loss on a disk that honours fsync). Appends are group-committed: Append
// checks the expectation and allocates versions and global positions under a
// short lock against in-memory stream heads that already include appends
// still waiting for their fsync, then queues the append. The first
// appender to find no commit running becomes the leader: it takes every
// queued append, writes them as one Pebble batch committed with one fsync
// (the synced commit holds no lock), acknowledges each waiter and promotes
// the first append queued meanwhile to lead the next batch. Concurrent
// writers therefore share fsyncs, while a lone writer commits on its own
// goroutine and pays exactly one fsync per append.
//
// Event IDs are looked up in Pebble's i/ table before the lock is taken;
// IDs committed between that lookup and the lock are found in the pending
// set or in a small in-memory set of the last commits' IDs.
//
// Readers and subscribers only ever see positions up to the synced
// watermark, so nothing that could still be lost is ever observed.
//
// Key layout (every key starts with a one-letter table and a slash):
//
//	g/<position BE8>                       -> encoded envelope (the global log)
//	s/<uvarint len(stream)><stream><ver BE8> -> position BE8 (stream index)
//	h/<stream>                              -> version BE8 (stream head)
//	i/<event ID>                            -> position BE8, version BE8, stream (event-ID index)
//	m/last                                  -> position BE8 (last position)
//	x/<stream>                              -> max count BE8, truncate-before BE8 (stream metadata)
//	n/<stream>                              -> the stream's latest snapshot
//
// Every append's keys go into one batch, so it is all or nothing on disk;
// Open rebuilds the in-memory stream heads from the h/ table and the stream
// metadata from the x/ table. Metadata, soft deletes and snapshots are
// written with their own synced commits, outside the group commit: they are
// rare, and a soft delete waits until the stream has no append pending its
// fsync, so truncate-before is never durable above events that are not.
package pebblestore
