// Package kurrentstore is the eventstore.Store backend over
// EventStoreDB/KurrentDB, through the official gRPC client
// (github.com/EventStore/EventStore-Client-Go/v4/esdb), so that edkit's
// scenarios and checkers can run against the event store many production
// systems use.
//
//	s, err := kurrentstore.New(ctx, "esdb://localhost:2113?tls=false",
//		kurrentstore.WithStreamPrefix("test-42-"))
//
// # Mapping
//
// Streams: edkit stream "order-1" is EventStoreDB stream prefix+"order-1".
// The prefix (WithStreamPrefix, default none) lets several stores share a
// server; ReadAll and SubscribeAll only see streams under it.
//
// Versions: edkit versions are 1-based, EventStoreDB revisions 0-based.
// Exact(v) is Revision(v-1), Exact(0) and NoStream are NoStream, Any and
// StreamExists map to their namesakes. A WrongExpectedVersion becomes
// *eventstore.ConcurrencyError whose Actual is the server's current revision
// + 1 (0 for no stream), read from the client's error text (v4.2.0 has no
// field for it) or, failing that, from the index below.
//
// Events: the event ID is a version-5 UUID of (prefix, edkit ID), so a retry
// carries the same UUID. Type is the event type; Data is stored as is,
// content type JSON when it is valid JSON, binary otherwise. The metadata is
// a JSON document {"edkitId", "schemaVersion", "headers"} plus
// "$correlationId"/"$causationId" copied from the well-known headers, which
// EventStoreDB's system projections read. Reads restore ID, Type, Data,
// Metadata and SchemaVersion; Time is the server's created date. Events
// written by other clients read back with their UUID as ID.
//
// Global positions: EventStoreDB's $all positions are commit/prepare log
// offsets with gaps, while edkit's are 1-based and gap-free. The adapter
// keeps an in-process index: ordinal n is the n-th event of $all that is not
// a system event ($-prefixed type or stream) and lies under the prefix. $all
// is append-only, so every process that counts from the start agrees on the
// ordinals, and they match the global order. New reads $all once to build
// the index; later calls extend it from where it stopped. ReadAll(from)
// starts reading $all at ordinal from's log position; SubscribeAll(from) is
// one SubscribeToAll, filtered on the server (stream prefix, or excluding
// system events), starting after ordinal from-1's log position, so the
// server provides catch-up then live without a gap or duplicate, and the
// adapter numbers what it receives. ReadStream reads forwards from revision
// from-1 and takes each event's position from the index; a missing or
// deleted stream is eventstore.ErrStreamNotFound.
//
// Idempotency: EventStoreDB deduplicates per stream (and only best-effort
// with Any), while edkit requires IDs unique across streams and exact retry
// rules. Append therefore checks the event UUIDs against the index (which it
// first brings up to the end of $all) with the same rules as memstore, and
// only writes new events. Appends of one Store are serialised so that check
// and write are not interleaved.
//
// # Limits
//
//   - Positions are stable only while nothing is removed from $all: deleting
//     or truncating a stream ($maxCount, $maxAge, $tb) and scavenging shift
//     every later ordinal. Do not use those on streams a store reads.
//   - The index costs one full read of $all at New (including other
//     applications' events: the v4 client cannot filter ReadAll) and about
//     a hundred bytes of memory per indexed event; it suits test and
//     scenario runs, not stores of billions of events.
//   - Event-ID uniqueness across streams and partial-overlap detection hold
//     within one process. Two processes appending the same edkit ID
//     concurrently to different streams can both succeed; EventStoreDB only
//     deduplicates a retry to the same stream.
//   - Reading $all needs a user allowed to (admin on a secure server; put the
//     credentials in the connection string). A subscription the server drops
//     ends with an error wrapping ErrServer; it is not resumed.
//   - A write whose acknowledgement is lost (ctx cancelled, connection cut)
//     may or may not have happened; retrying it with the same IDs is safe.
//
// # Verification
//
// The mappings are pure functions with table tests that run anywhere. The
// conformance suite (eventstoretest) runs only when EDKIT_KURRENT_URL names
// a server; the machine this was written on has none, so the adapter's
// behaviour against a real server is not verified there.
package kurrentstore
