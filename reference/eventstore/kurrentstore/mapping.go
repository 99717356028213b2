package kurrentstore

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// This file holds every translation between edkit's contract and
// EventStoreDB's as pure functions, so that they are unit-tested without a
// server.

// idNamespace is the UUID namespace edkit event IDs are hashed in. It is
// itself a name-based UUID of the package's URL, so it is reproducible.
var idNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/edkit-dev/edkit/reference/eventstore/kurrentstore"))

// eventID derives the EventStoreDB event ID (a UUID) of an edkit event ID.
// It is a name-based (version 5, SHA-1) UUID of the store's stream prefix
// and the edkit ID, so a retry of the same edkit event always carries the
// same UUID — EventStoreDB's own idempotency works on event IDs — while two
// stores with different prefixes on one server never collide.
func eventID(prefix, id string) uuid.UUID {
	return uuid.NewSHA1(idNamespace, []byte(prefix+"\x00"+id))
}

// expectedRevision maps an edkit expectation to EventStoreDB's. edkit
// versions are 1-based (the version of the stream's last event) and
// EventStoreDB revisions 0-based (the number of its last event), so Exact(v)
// becomes Revision(v-1); Exact(0), an empty stream, is NoStream because an
// empty stream does not exist in either store.
func expectedRevision(expected eventstore.ExpectedVersion) (esdb.ExpectedRevision, error) {
	switch {
	case expected == eventstore.Any:
		return esdb.Any{}, nil
	case expected == eventstore.NoStream, expected == 0:
		return esdb.NoStream{}, nil
	case expected == eventstore.StreamExists:
		return esdb.StreamExists{}, nil
	case expected > 0:
		return esdb.Revision(revisionOf(uint64(expected))), nil
	}
	return nil, fmt.Errorf("kurrentstore: unknown expectation %d: %w", int64(expected), eventstore.ErrInvalidAppend)
}

// serverExpectation checks expected against the stream's state as the
// adapter read it (last version from the index, metadata from the server)
// and returns the expectation the server checks again, so a write that
// raced with another process still fails there. NoStream on a soft-deleted
// stream, which edkit accepts (the stream does not exist) and which
// EventStoreDB may not count as "no stream", is sent as the exact revision
// of its last event, which EventStoreDB checks the same way for deleted
// and live streams.
func serverExpectation(stream string, expected eventstore.ExpectedVersion, st eventstore.StreamState) (esdb.ExpectedRevision, error) {
	if err := st.Check(stream, expected); err != nil {
		return nil, err
	}
	if (expected == eventstore.NoStream || expected == 0) && st.Last > 0 {
		return esdb.Revision(revisionOf(st.Last)), nil
	}
	return expectedRevision(expected)
}

// revisionOf converts a 1-based edkit version (>= 1) to a 0-based revision.
func revisionOf(version uint64) uint64 { return version - 1 }

// versionOf converts a 0-based EventStoreDB revision to a 1-based version.
func versionOf(revision uint64) uint64 { return revision + 1 }

// wrongVersionDetail matches the text the Go client puts in a
// WrongExpectedVersion error from an append: the server's current revision
// is only available there (v4.2.0 does not expose it as a field).
var wrongVersionDetail = regexp.MustCompile(`expecting '([^']*)' but got '([^']*)'`)

// deleteConflictDetail matches the gRPC status message EventStoreDB sends
// when a delete fails its expectation ("Delete failed due to
// WrongExpectedVersion. Stream: s, Expected version: 1, Actual version: 2."),
// which the client passes on with code Unknown: the status's trailers are
// not exposed either. Actual version -1 means no stream.
var deleteConflictDetail = regexp.MustCompile(`WrongExpectedVersion\b.*Actual version: (-1|\d+)`)

// currentVersion extracts the stream's current edkit version from a
// WrongExpectedVersion error's text: "no_stream" (or -1) is 0, revision r is
// r+1. ok is false when the text does not say.
func currentVersion(detail string) (version uint64, ok bool) {
	var got string
	if m := wrongVersionDetail.FindStringSubmatch(detail); m != nil {
		got = m[2]
	} else if m := deleteConflictDetail.FindStringSubmatch(detail); m != nil {
		got = m[1]
	} else {
		return 0, false
	}
	if got == "no_stream" || got == "-1" {
		return 0, true
	}
	rev, err := strconv.ParseUint(got, 10, 64)
	if err != nil {
		return 0, false
	}
	return versionOf(rev), true
}

// conflict reports whether a failed write is EventStoreDB's
// WrongExpectedVersion: appends carry the code, deletes only the text.
func conflict(code esdb.ErrorCode, cause error) bool {
	return code == esdb.ErrorCodeWrongExpectedVersion || (cause != nil && strings.Contains(cause.Error(), "WrongExpectedVersion"))
}

// notFound reports whether a code means the stream is missing or deleted.
func notFound(code esdb.ErrorCode) bool {
	return code == esdb.ErrorCodeResourceNotFound || code == esdb.ErrorCodeStreamDeleted
}

// appendError maps a failed AppendToStream to the contract's errors: a
// WrongExpectedVersion becomes *eventstore.ConcurrencyError carrying the
// current version (from the error text, or from fallback when the text does
// not carry it); anything else is wrapped with ErrServer, keeping cause.
func appendError(stream string, expected eventstore.ExpectedVersion, code esdb.ErrorCode, cause error, fallback func() (uint64, error)) error {
	return writeError("append", stream, expected, code, cause, fallback)
}

// deleteError is appendError for DeleteStream.
func deleteError(stream string, expected eventstore.ExpectedVersion, code esdb.ErrorCode, cause error, fallback func() (uint64, error)) error {
	return writeError("delete", stream, expected, code, cause, fallback)
}

func writeError(op, stream string, expected eventstore.ExpectedVersion, code esdb.ErrorCode, cause error, fallback func() (uint64, error)) error {
	if !conflict(code, cause) {
		return fmt.Errorf("kurrentstore: %s %s: %w: %w", op, stream, ErrServer, cause)
	}
	actual, ok := currentVersion(cause.Error())
	if !ok && fallback != nil {
		v, err := fallback()
		if err != nil {
			return fmt.Errorf("kurrentstore: %s %s: wrong expected version, current version unknown: %w", op, stream, err)
		}
		actual = v
	}
	return &eventstore.ConcurrencyError{Stream: stream, Expected: expected, Actual: actual}
}

// readError maps a failed stream read: a missing or deleted stream is
// eventstore.ErrStreamNotFound; anything else is ErrServer.
func readError(stream string, code esdb.ErrorCode, cause error) error {
	if notFound(code) {
		return fmt.Errorf("kurrentstore: read %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	return fmt.Errorf("kurrentstore: read %s: %w: %w", stream, ErrServer, cause)
}

// metadataDoc is the JSON document stored as an event's EventStoreDB
// metadata. It keeps what EventStoreDB has no field for: the original edkit
// ID (the event ID is a hash of it), the schema version and the headers.
// CorrelationID and CausationID repeat the well-known headers under the
// names EventStoreDB's system projections ($by_correlation_id) read.
type metadataDoc struct {
	ID            string            `json:"edkitId"`
	SchemaVersion int               `json:"schemaVersion,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
	CorrelationID string            `json:"$correlationId,omitempty"`
	CausationID   string            `json:"$causationId,omitempty"`
}

// encode turns an envelope into EventStoreDB event data. Data that is valid
// JSON is stored as JSON (so server-side projections can read it), anything
// else as binary; both round-trip byte for byte.
func encode(prefix string, e event.Envelope) (esdb.EventData, error) {
	meta, err := json.Marshal(metadataDoc{
		ID:            e.ID,
		SchemaVersion: e.SchemaVersion,
		Headers:       e.Metadata,
		CorrelationID: e.Metadata[event.MetaCorrelationID],
		CausationID:   e.Metadata[event.MetaCausationID],
	})
	if err != nil {
		return esdb.EventData{}, fmt.Errorf("kurrentstore: encode metadata of %s: %w", e.ID, err)
	}
	ct := esdb.ContentTypeBinary
	if len(e.Data) > 0 && json.Valid(e.Data) {
		ct = esdb.ContentTypeJson
	}
	return esdb.EventData{
		EventID:     eventID(prefix, e.ID),
		EventType:   e.Type,
		ContentType: ct,
		Data:        append([]byte(nil), e.Data...),
		Metadata:    meta,
	}, nil
}

// decode turns a recorded event back into an envelope without a Position
// (the caller knows it). An event written by another client, without an
// edkit metadata document, keeps its UUID as ID and has no headers.
func decode(prefix string, r *esdb.RecordedEvent) event.Envelope {
	e := event.Envelope{
		ID:      r.EventID.String(),
		Type:    r.EventType,
		Stream:  strings.TrimPrefix(r.StreamID, prefix),
		Version: versionOf(r.EventNumber),
		Time:    r.CreatedDate,
	}
	if len(r.Data) > 0 {
		e.Data = append(json.RawMessage(nil), r.Data...)
	}
	var doc metadataDoc
	if len(r.UserMetadata) > 0 && json.Unmarshal(r.UserMetadata, &doc) == nil && doc.ID != "" {
		e.ID = doc.ID
		e.SchemaVersion = doc.SchemaVersion
		if len(doc.Headers) > 0 {
			e.Metadata = doc.Headers
		}
	}
	return e
}

// include reports whether an event in $all belongs to the store's global
// order, and its edkit stream name. System events ($-prefixed types, such as
// stream metadata and link events), system streams and the adapter's
// snapshot streams never do; with a prefix, only streams under it do.
func include(prefix, streamID, eventType string) (string, bool) {
	if strings.HasPrefix(eventType, "$") || strings.HasPrefix(streamID, "$") {
		return "", false
	}
	if !strings.HasPrefix(streamID, prefix) {
		return "", false
	}
	stream := strings.TrimPrefix(streamID, prefix)
	if reserved(stream) {
		return "", false
	}
	return stream, true
}

// subscriptionFilter is the server-side filter for SubscribeToAll. It lets
// through a superset of what include accepts (include runs again on each
// event), so the server does the bulk of the filtering.
func subscriptionFilter(prefix string) *esdb.SubscriptionFilter {
	if prefix == "" {
		return esdb.ExcludeSystemEventsFilter()
	}
	return &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{prefix}}
}

// validPrefix checks a stream prefix: it must not make every stream a
// system stream.
func validPrefix(prefix string) error {
	if strings.HasPrefix(prefix, "$") {
		return fmt.Errorf("%w: stream prefix %q starts with $ (system streams)", ErrInvalidOption, prefix)
	}
	return nil
}

// validate rejects appends that can never succeed, before any round trip.
func validate(stream string, expected eventstore.ExpectedVersion, events []event.Envelope) error {
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return fmt.Errorf("kurrentstore: %w", err)
	}
	if reserved(stream) {
		return fmt.Errorf("kurrentstore: append %s: names starting with %q are the adapter's snapshot streams: %w", stream, snapshotInfix, eventstore.ErrInvalidAppend)
	}
	return nil
}

// location is where an event ID is stored, as the index knows it.
type location struct {
	stream   string // edkit stream name
	version  uint64 // 1-based
	position uint64 // 1-based ordinal in the filtered $all
}

// retried recognises a retry of an earlier append, with the same rules as
// memstore: done is false when no ID is stored (a new append); when every
// ID is stored in this stream consecutively and in order, the earlier result
// is returned if the expectation agrees with where they landed, else a
// *ConcurrencyError with the current version; any other overlap is an
// idempotency conflict. EventStoreDB's own idempotency is per stream and
// best-effort with Any, so the adapter decides this itself.
func retried(stream string, expected eventstore.ExpectedVersion, ids []uuid.UUID, names []string, lookup func(uuid.UUID) (location, bool), current uint64) (eventstore.AppendResult, bool, error) {
	locs := make([]location, len(ids))
	found := 0
	for i, id := range ids {
		if l, ok := lookup(id); ok {
			locs[i] = l
			found++
		}
	}
	if found == 0 {
		return eventstore.AppendResult{}, false, nil
	}
	conflict := func(why string) (eventstore.AppendResult, bool, error) {
		return eventstore.AppendResult{}, true, fmt.Errorf("kurrentstore: append %s: %s: %w", stream, why, eventstore.ErrIdempotencyConflict)
	}
	if found < len(ids) {
		return conflict(fmt.Sprintf("%d of %d event IDs already stored", found, len(ids)))
	}
	first := locs[0]
	for i, l := range locs {
		if l.stream != stream {
			return conflict(fmt.Sprintf("event ID %q is stored in stream %q", names[i], l.stream))
		}
		if l.version != first.version+uint64(i) {
			return conflict(fmt.Sprintf("event ID %q is stored out of order", names[i]))
		}
	}
	last := locs[len(locs)-1]
	res := eventstore.AppendResult{NextExpected: last.version, Position: last.position}
	switch {
	case expected == eventstore.Any, expected == eventstore.StreamExists:
		return res, true, nil
	case expected == eventstore.NoStream && first.version == 1:
		return res, true, nil
	case expected >= 0 && uint64(expected)+1 == first.version:
		return res, true, nil
	}
	return eventstore.AppendResult{}, true, &eventstore.ConcurrencyError{Stream: stream, Expected: expected, Actual: current}
}

// subscriptionStart picks where SubscribeToAll starts for edkit position
// from, given the $all positions of the ordinals known so far (known[i] is
// ordinal i+1). EventStoreDB subscriptions start after the given position,
// so the start is ordinal from-1's position; when from-1 is not known yet
// the subscription starts after the last known ordinal and the caller skips
// ordinals below from. next is the ordinal of the first event delivered.
func subscriptionStart(from uint64, known []esdb.Position) (start esdb.AllPosition, next uint64) {
	if from <= 1 || len(known) == 0 {
		return esdb.Start{}, 1
	}
	if from-1 <= uint64(len(known)) {
		return known[from-2], from
	}
	return known[len(known)-1], uint64(len(known)) + 1
}

// snapshotInfix names a stream's snapshot stream: edkit stream s keeps its
// snapshots in prefix+snapshotInfix+s. Names starting with "$" are
// EventStoreDB's system streams (and $$ its metadata streams), so the
// snapshot streams use an ordinary name that the adapter reserves: Append
// refuses streams starting with it, and include keeps them out of ReadAll,
// SubscribeAll and the ordinals.
const snapshotInfix = "edkit-snapshot."

// snapshotEventType is the event type of a snapshot stream's events.
const snapshotEventType = "edkit-snapshot"

// snapshotStream is the EventStoreDB stream holding stream's snapshots.
func snapshotStream(prefix, stream string) string { return prefix + snapshotInfix + stream }

// reserved reports whether an edkit stream name is one the adapter uses for
// itself (a snapshot stream).
func reserved(stream string) bool { return strings.HasPrefix(stream, snapshotInfix) }

// encodeSnapshot turns a snapshot into the event appended to its snapshot
// stream: the snapshot's JSON, without the save time, which is the event's
// created date on the server.
func encodeSnapshot(snap eventstore.Snapshot) (esdb.EventData, error) {
	snap.Time = time.Time{}
	data, err := json.Marshal(snap)
	if err != nil {
		return esdb.EventData{}, fmt.Errorf("kurrentstore: encode snapshot of %s: %w", snap.Stream, err)
	}
	return esdb.EventData{
		EventID:     uuid.New(),
		EventType:   snapshotEventType,
		ContentType: esdb.ContentTypeJson,
		Data:        data,
	}, nil
}

// decodeSnapshot reads a snapshot event back for stream; Time is the
// server's created date (the store's clock).
func decodeSnapshot(stream string, r *esdb.RecordedEvent) (eventstore.Snapshot, error) {
	var snap eventstore.Snapshot
	if err := json.Unmarshal(r.Data, &snap); err != nil {
		return eventstore.Snapshot{}, fmt.Errorf("kurrentstore: decode snapshot of %s (%s@%d): %w", stream, r.StreamID, r.EventNumber, err)
	}
	snap.Stream = stream
	snap.Time = r.CreatedDate
	return snap, nil
}

// deletedTruncateBefore is the $tb EventStoreDB writes when it soft-deletes
// a stream (EventNumber.DeletedStream, long.MaxValue), rather than a real
// revision.
const deletedTruncateBefore = math.MaxInt64

// toServerMetadata maps edkit stream metadata to EventStoreDB's. MaxCount is
// $maxCount as is. TruncateBefore v (1-based: hide versions below v) is $tb
// v-1 (0-based: hide revisions below v-1); 0 sets no $tb. The result
// replaces the stream's whole metadata, including ACLs or custom
// properties other clients set.
func toServerMetadata(md eventstore.StreamMetadata) esdb.StreamMetadata {
	var m esdb.StreamMetadata
	if md.MaxCount > 0 {
		m.SetMaxCount(md.MaxCount)
	}
	if md.TruncateBefore > 0 {
		m.SetTruncateBefore(revisionOf(md.TruncateBefore))
	}
	return m
}

// fromServerMetadata maps EventStoreDB stream metadata back, for a stream
// whose last version is last: $tb r is TruncateBefore r+1, except the
// soft-delete marker, which becomes last+1 — what memstore's DeleteStream
// sets — so that callers see "past the last version". $maxAge, ACLs and
// custom properties have no edkit equivalent and are dropped.
func fromServerMetadata(m *esdb.StreamMetadata, last uint64) eventstore.StreamMetadata {
	var md eventstore.StreamMetadata
	if m == nil {
		return md
	}
	if n := m.MaxCount(); n != nil {
		md.MaxCount = *n
	}
	if tb := m.TruncateBefore(); tb != nil {
		if *tb >= deletedTruncateBefore {
			md.TruncateBefore = last + 1
		} else {
			md.TruncateBefore = versionOf(*tb)
		}
	}
	return md
}

// backwardsStart is where a backwards stream read starts for edkit version
// from (End or a version past the stream's last, last being the latest
// version the index knows): the newest event, or the revision of from. The
// adapter never asks the server to start past the end, so how it answers
// that does not matter.
func backwardsStart(from, last uint64) esdb.StreamPosition {
	if from > last {
		return esdb.End{}
	}
	return esdb.Revision(revisionOf(from))
}

// streamSubscriptionStart is where SubscribeToStream starts for edkit
// version from. EventStoreDB stream subscriptions start after the given
// revision (.NET's FromStream.After), so versions >= from are revisions
// after from-2; from <= 1 is the start. The feed also drops any version
// below from, so an inclusive reading by the server would not deliver one
// event twice.
func streamSubscriptionStart(from uint64) esdb.StreamPosition {
	if from <= 1 {
		return esdb.Start{}
	}
	return esdb.Revision(revisionOf(from - 1))
}

// userFilter is the server-side filter for a SubscribeToAll with edkit
// filter f. EventStoreDB takes one filter kind per subscription, so when
// both are set the stream prefixes go to the server — put under the store's
// prefix, they also keep other stores' streams off the wire — and the event
// types are left to the client. Event types alone become an anchored regex
// of the quoted names, and the store's prefix is left to the client
// (include). The adapter tests every received event with include and
// f.Match anyway, so the server filter only has to pass a superset of what
// f passes. An empty filter is the store's default filter.
func userFilter(prefix string, f eventstore.Filter) *esdb.SubscriptionFilter {
	switch {
	case f.Empty():
		return subscriptionFilter(prefix)
	case len(f.StreamPrefixes) > 0:
		ps := make([]string, len(f.StreamPrefixes))
		for i, p := range f.StreamPrefixes {
			ps[i] = prefix + p
		}
		return &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: ps}
	}
	return &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: eventTypeRegex(f.EventTypes)}
}

// eventTypeRegex matches exactly the given event types.
func eventTypeRegex(types []string) string {
	qs := make([]string, len(types))
	for i, t := range types {
		qs[i] = regexp.QuoteMeta(t)
	}
	return "^(" + strings.Join(qs, "|") + ")$"
}

// ordinalOf finds the ordinal of $all position p in known (known[i] is
// ordinal i+1; positions ascend), for subscriptions whose server-side filter
// hides events, so the adapter cannot number what it receives by counting.
func ordinalOf(known []esdb.Position, p esdb.Position) (uint64, bool) {
	i := sort.Search(len(known), func(i int) bool { return !positionLess(known[i], p) })
	if i < len(known) && known[i] == p {
		return uint64(i) + 1, true
	}
	return 0, false
}

// positionLess orders $all positions: by commit, then prepare.
func positionLess(a, b esdb.Position) bool {
	if a.Commit != b.Commit {
		return a.Commit < b.Commit
	}
	return a.Prepare < b.Prepare
}
