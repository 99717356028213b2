// Package eventstoretest is the conformance suite every eventstore.Store
// backend runs, so that memory, embedded, PostgreSQL and EventStoreDB
// backends promise exactly the same things. A backend's test is a few lines:
//
//	func TestConformance(t *testing.T) {
//		t.Run("memstore", func(t *testing.T) {
//			eventstoretest.Run(t, func(*testing.T) eventstore.Store { return memstore.New() })
//		})
//	}
//
// The suite checks expectations, atomic and idempotent appends, event-ID
// uniqueness, reads, catch-up-then-live subscriptions under concurrent
// writers, backwards reads, stream metadata and soft delete, filtered and
// per-stream subscriptions, bounded subscription buffers, snapshots,
// upcasting, Close, and a seeded randomized comparison against a reference
// model kept in this package.
//
// The crash harness (CrashWorkload, StartCrashChild, VerifyAfterCrash) is
// the kill -9 test of every durable backend: a child process appends and
// prints its acknowledgements, the parent kills it (or the server under
// it), and the reopened store must hold every acknowledged append, whole
// and in place.
package eventstoretest
