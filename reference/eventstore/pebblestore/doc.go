// Package pebblestore is the durable embedded event store: an
// eventstore.Store on a Pebble LSM in one directory, for embedded runs that
// must survive a process crash and for measuring what durable appends cost.
//
// An append is acknowledged only after its Pebble batch is committed with
// pebble.Sync, so an acknowledged event survives a crash (kill -9, power
// loss on a disk that honours fsync). Appends are group-committed: Append
// checks the expectation and allocates versions and global positions under a
// short lock against in-memory stream heads that already include appends
// still waiting for their fsync, then queues the append; one committer
// goroutine takes every queued append, writes them as one batch with one
// fsync, and acknowledges each waiter. Concurrent writers therefore share
// fsyncs while a single writer pays exactly one per append.
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
//
// Every append's keys go into one batch, so it is all or nothing on disk;
// Open rebuilds the in-memory stream heads from the h/ table.
package pebblestore
