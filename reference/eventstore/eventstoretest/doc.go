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
// writers, Close, and a seeded randomized comparison against a reference
// model kept in this package.
package eventstoretest
