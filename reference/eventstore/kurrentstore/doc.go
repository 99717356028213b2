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
// a system event ($-prefixed type or stream) nor a snapshot, and lies under
// the prefix. $all
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
// Backwards reads: ReadStreamBackwards reads with Direction Backwards from
// revision from-1, or from End when from is End or past the stream's last
// version (the index's, caught up first), so the server is never asked to
// start past the end.
//
// Stream metadata: MaxCount is $maxCount and TruncateBefore v (1-based,
// hiding versions below v) is $tb v-1 (0-based, hiding revisions below
// v-1), written with SetStreamMetadata, which replaces the stream's whole
// metadata (ACLs and custom properties set by other clients included), and
// read back from the newest event of the metadata stream; $maxAge, ACLs and
// custom properties are not returned. EventStoreDB applies $maxCount and $tb
// itself on stream reads. A read that returns no events is checked against
// the stream's state (index version and metadata), so a stream whose
// metadata hides everything is ErrStreamNotFound whether the server answers
// "not found" or "empty".
//
// Soft delete: DeleteStream checks the expectation on the client first,
// against the index's last version and the metadata (eventstore.StreamState,
// as memstore), so ErrStreamNotFound for a stream never written, the no-op
// on an already deleted stream and NoStream holding for a deleted stream do
// not depend on the server; then it calls EventStoreDB's soft delete
// (DeleteStream, not TombstoneStream) with the mapped expectation, which the
// server checks again, and soft-deletes the snapshot stream. The server's
// delete marker ($tb = long.MaxValue) reads back as TruncateBefore one past
// the last version. Append with NoStream (or Exact(0)) or StreamExists on a
// stream the index knows reads the metadata first: StreamExists on a
// deleted stream fails on the client, and NoStream on a deleted stream is
// sent as the exact revision of its last event, which the server checks the
// same way for deleted and live streams.
//
// Subscriptions: SubscribeAll with a Filter passes the server one filter
// (EventStoreDB takes one kind per subscription): the stream prefixes,
// under the store's prefix, when there are any, else the event types as an
// anchored regex of regexp.QuoteMeta'd names. Every event received is tested
// again with include and Filter.Match, so the kind the server did not apply
// is applied on the client. Because the server then leaves out events that
// have ordinals, a filtered subscription takes each event's ordinal from
// the index by its $all position (catching the index up when it is behind)
// instead of counting. SubscribeStream is SubscribeToStream, which starts
// after a revision: from v starts after revision v-2 (Start for v <= 1),
// raised first to the first version the metadata leaves visible; versions
// below from are dropped on the client; positions come from the index.
//
// Snapshots: stream s's snapshots are events of type "edkit-snapshot" in
// stream prefix+"edkit-snapshot."+s ("$" names are system streams), a name
// the adapter reserves: Append refuses streams starting with
// "edkit-snapshot.", and ReadAll, SubscribeAll and the ordinals leave them
// out. The event is the snapshot's JSON; Time on load is the server's
// created date. SaveSnapshot validates the version against the index's last
// version of s, reads the current snapshot (one backwards read) and keeps it
// when it is later, else appends expecting the revision it read (NoStream
// when there is none), retrying on a conflict, so a concurrent save cannot
// put an older snapshot after a newer one. A new snapshot stream gets
// $maxCount 1 after its first append (after, so that a deleted older
// snapshot never shows again). LoadSnapshot reads backwards one event; a
// missing or deleted snapshot stream is ErrSnapshotNotFound.
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
//   - Positions are stable only while nothing is removed from $all. Stream
//     metadata and soft deletes only hide events from stream reads, but a
//     scavenge then removes them from $all and shifts every later ordinal:
//     do not scavenge a server whose truncated or deleted streams a store
//     reads. (Snapshot streams are outside the ordinals, so scavenging their
//     old snapshots is harmless.)
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
// behaviour against a real server is not verified there. In particular,
// these assumptions about EventStoreDB are not verified against a server:
//
//   - stream reads apply $maxCount and $tb (a forward read from below the
//     first visible revision starts there), and stream subscriptions apply
//     them in catch-up (the adapter raises the start itself anyway);
//   - soft delete writes $tb = long.MaxValue, a read of the deleted stream
//     answers "not found" (an empty answer is handled too), appending again
//     continues the numbering and rewrites $tb to the first new revision
//     keeping $maxCount, and Exact(last) is accepted on a deleted stream;
//   - whether the server accepts NoStream on a soft-deleted stream is not
//     relied on for user streams (the adapter sends the exact revision); for
//     a deleted snapshot stream SaveSnapshot falls back to Any when NoStream
//     is refused, losing only the check against a concurrent save;
//   - a delete that fails its expectation on the server comes back as code
//     Unknown with "WrongExpectedVersion ... Actual version: n" in the text
//     (only reachable when another process races the client-side check);
//   - $all keeps the events that $maxCount, $tb and soft deletes hide until a
//     scavenge, so ReadAll and SubscribeAll still return them;
//   - SubscribeToStream and SubscribeToAll start after the given position,
//     and events from $all subscriptions carry the same commit/prepare
//     positions as ReadAll (the filtered ordinal lookup relies on it);
//   - the server's event-type regex filter matches the whole type with Go
//     regexp syntax as produced by regexp.QuoteMeta (.NET regex agrees on
//     the escapes QuoteMeta emits).
package kurrentstore
