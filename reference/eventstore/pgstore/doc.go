// Package pgstore is an eventstore.Store on PostgreSQL through pgx v5.
//
// Each store lives in its own schema (WithSchema; default "eventstore") with
// one events table and a one-row head table holding the last global
// position. New creates both idempotently.
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
package pgstore
