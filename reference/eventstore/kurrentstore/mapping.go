package kurrentstore

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

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

// revisionOf converts a 1-based edkit version (>= 1) to a 0-based revision.
func revisionOf(version uint64) uint64 { return version - 1 }

// versionOf converts a 0-based EventStoreDB revision to a 1-based version.
func versionOf(revision uint64) uint64 { return revision + 1 }

// wrongVersionDetail matches the text the Go client puts in a
// WrongExpectedVersion error: the server's current revision is only
// available there (v4.2.0 does not expose it as a field).
var wrongVersionDetail = regexp.MustCompile(`expecting '([^']*)' but got '([^']*)'`)

// currentVersion extracts the stream's current edkit version from a
// WrongExpectedVersion error's text: "no_stream" is 0, revision r is r+1.
// ok is false when the text does not say.
func currentVersion(detail string) (version uint64, ok bool) {
	m := wrongVersionDetail.FindStringSubmatch(detail)
	if m == nil {
		return 0, false
	}
	if m[2] == "no_stream" {
		return 0, true
	}
	rev, err := strconv.ParseUint(m[2], 10, 64)
	if err != nil {
		return 0, false
	}
	return versionOf(rev), true
}

// appendError maps a failed AppendToStream to the contract's errors: a
// WrongExpectedVersion becomes *eventstore.ConcurrencyError carrying the
// current version (from the error text, or from fallback when the text does
// not carry it); anything else is wrapped with ErrServer, keeping cause.
func appendError(stream string, expected eventstore.ExpectedVersion, code esdb.ErrorCode, cause error, fallback func() (uint64, error)) error {
	if code != esdb.ErrorCodeWrongExpectedVersion {
		return fmt.Errorf("kurrentstore: append %s: %w: %w", stream, ErrServer, cause)
	}
	actual, ok := currentVersion(cause.Error())
	if !ok && fallback != nil {
		v, err := fallback()
		if err != nil {
			return fmt.Errorf("kurrentstore: append %s: wrong expected version, current version unknown: %w", stream, err)
		}
		actual = v
	}
	return &eventstore.ConcurrencyError{Stream: stream, Expected: expected, Actual: actual}
}

// readError maps a failed stream read: a missing or deleted stream is
// eventstore.ErrStreamNotFound; anything else is ErrServer.
func readError(stream string, code esdb.ErrorCode, cause error) error {
	switch code {
	case esdb.ErrorCodeResourceNotFound, esdb.ErrorCodeStreamDeleted:
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
// stream metadata and link events) and system streams never do; with a
// prefix, only streams under it do.
func include(prefix, streamID, eventType string) (string, bool) {
	if strings.HasPrefix(eventType, "$") || strings.HasPrefix(streamID, "$") {
		return "", false
	}
	if !strings.HasPrefix(streamID, prefix) {
		return "", false
	}
	return strings.TrimPrefix(streamID, prefix), true
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
