// Package eventstore holds the event store contract (Store), its errors, and
// the expectations used for optimistic concurrency. Backends live in
// subpackages (memstore, and later pebblestore, pgstore, kurrentstore) and
// all pass the same conformance suite in eventstoretest.
package eventstore
