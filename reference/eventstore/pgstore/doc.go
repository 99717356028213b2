// Package pgstore is an eventstore.Store on PostgreSQL through pgx v5.
//
// Each store lives in its own schema (WithSchema; default "eventstore"). New
// creates, idempotently and under an advisory lock so that processes can
// race: the events table; a one-row head table holding the last global
// position; stream_metadata (stream primary key, max_count and
// truncate_before as numeric(20,0), which holds every uint64 exactly), with a
// row only for streams whose metadata was set or that were soft-deleted; and
// snapshots (stream primary key, version, type, schema_version, data bytea,
// time), one per stream.
//
// Optimistic concurrency is enforced by a unique constraint on (stream,
// version); event IDs are unique by a second constraint, and a retry of the
// same IDs at the same expectation returns the original result, exactly as
// memstore does.
//
// # The gap problem, and how this store avoids it
//
// A global order allocated from a sequence is not a commit order: A takes
// position 10, B takes 11 and commits first, and a reader that returned 11
// and moved its cursor to 12 never sees 10. pgstore therefore allocates
// positions from the head row, which Append locks (SELECT ... FOR UPDATE)
// for the rest of its transaction. The next appender cannot read the head
// until the holder has committed, and PostgreSQL makes a commit visible
// before it releases the transaction's locks; so position p+1 is allocated
// only after p is visible (or was rolled back, in which case the head is
// rolled back with it and p is handed out again). The committed positions
// are therefore always exactly 1..N with no hole, and a reader that sees p
// has already been able to see every position below it. A sequence could
// not give this: nextval is not transactional, so a rolled-back append
// would burn positions, and the contract wants them contiguous.
//
// The cost is that appends, including their commit, are serialized per
// store (docs/performance.md measures it). Readers and subscribers take no
// lock at all.
//
// # Stream locks: metadata, soft delete and snapshots
//
// Every write that depends on a stream's state takes a transaction-scoped
// advisory lock keyed by a 64-bit FNV hash of the schema and the stream name
// (pg_advisory_xact_lock): Append, SetStreamMetadata, DeleteStream and
// SaveSnapshot. An advisory lock was chosen over SELECT ... FOR UPDATE on a
// streams row because a stream that was never written has no row to lock,
// and creating one on every append would cost a write. Append takes the
// stream lock, then the head row (always in that order, and nothing waits
// for a stream lock while holding the head, so the two cannot deadlock),
// then reads the stream's last version and metadata and checks the
// expectation with eventstore.StreamState.Check — all in one pipelined
// round trip, and none of it can change before the append commits.
// DeleteStream reads the state, checks the expectation, sets TruncateBefore
// to one past the last version (keeping MaxCount) and deletes the snapshot
// in one transaction under the same lock, so an append runs wholly before
// or wholly after it: "append to an existing stream" can never land on a
// stream that a concurrent delete believed it had emptied. Two streams
// whose keys collide only serialize needlessly.
//
// Metadata only hides events from stream reads; nothing is rewritten, so
// ReadAll and SubscribeAll keep every event. ReadStream and
// ReadStreamBackwards compute the first visible version
// (eventstore.StreamMetadata.FirstVisible) and whether the stream exists
// inside the same statement that reads the events, so they see one
// snapshot; a stream that does not exist or is soft-deleted returns
// ErrStreamNotFound. SaveSnapshot validates the version against the stream's
// last version under the stream lock, and its upsert keeps the later
// version (ON CONFLICT ... WHERE excluded.version >= snapshots.version).
//
// # Subscriptions
//
// SubscribeAll runs one goroutine per subscription that reads by position
// into a small bounded channel (backpressure: it blocks while the subscriber
// is slow). It sleeps between reads until a LISTEN/NOTIFY wake-up (Append
// calls pg_notify in its transaction, so appends by other processes wake it
// too), a local append, or the poll interval (WithPollInterval), which keeps
// it live if the listening connection is lost. Catch-up and live are the
// same loop over gapless positions, so the switch-over cannot skip or
// repeat. Transient database errors (a restarting server) are retried at the
// poll interval; the channel closes only when ctx is done or the store
// closes.
//
// A Filter runs in the query (starts_with on the stream for the prefixes,
// so LIKE metacharacters in a prefix mean themselves; type = ANY for the
// types), so filtered-out events never leave the server. A filtered read
// must still move its cursor past the positions it did not return, or it
// would rescan them forever; it moves it only up to the safe head — the
// head row's value, read in the same statement — below which every
// position is known committed, so it never jumps over a position that
// could still commit. The gap test runs a filtered subscriber too.
//
// SubscribeStream is the same loop by version over one stream, starting at
// the larger of from and the first version the metadata leaves visible when
// it subscribes; afterwards it sends every new event. A stream's versions
// commit in order because its appends serialize on the stream lock, so the
// loop cannot skip a version either.
package pgstore
