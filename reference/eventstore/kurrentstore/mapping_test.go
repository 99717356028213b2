package kurrentstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

func TestExpectedRevision(t *testing.T) {
	cases := []struct {
		name     string
		expected eventstore.ExpectedVersion
		want     esdb.ExpectedRevision
		invalid  bool
	}{
		{"any", eventstore.Any, esdb.Any{}, false},
		{"no-stream", eventstore.NoStream, esdb.NoStream{}, false},
		{"stream-exists", eventstore.StreamExists, esdb.StreamExists{}, false},
		{"exact-0-is-no-stream", eventstore.Exact(0), esdb.NoStream{}, false},
		{"exact-1-is-revision-0", eventstore.Exact(1), esdb.Revision(0), false},
		{"exact-42-is-revision-41", eventstore.Exact(42), esdb.Revision(41), false},
		{"unknown-negative", eventstore.ExpectedVersion(-9), nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := expectedRevision(c.expected)
			if c.invalid {
				if !errors.Is(err, eventstore.ErrInvalidAppend) {
					t.Fatalf("err = %v, want ErrInvalidAppend", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestVersionRevisionRoundTrip(t *testing.T) {
	for _, v := range []uint64{1, 2, 1000, 1 << 40} {
		if got := versionOf(revisionOf(v)); got != v {
			t.Errorf("versionOf(revisionOf(%d)) = %d", v, got)
		}
	}
	if revisionOf(1) != 0 || versionOf(0) != 1 {
		t.Fatalf("version 1 must be revision 0: revisionOf(1)=%d versionOf(0)=%d", revisionOf(1), versionOf(0))
	}
}

func TestCurrentVersion(t *testing.T) {
	cases := []struct {
		name   string
		detail string
		want   uint64
		ok     bool
	}{
		{"no-stream-is-0", "wrong expected version: expecting '0' but got 'no_stream'", 0, true},
		{"revision-0-is-version-1", "wrong expected version: expecting 'no_stream' but got '0'", 1, true},
		{"revision-4-is-version-5", "wrong expected version: expecting 'any' but got '4'", 5, true},
		{"wrapped-by-client", "[ErrorCodeWrongExpectedVersion] an append request failed the optimistic concurrency on the server: wrong expected version: expecting 'stream_exists' but got 'no_stream'", 0, true},
		{"delete-conflict", "rpc error: code = FailedPrecondition desc = Delete failed due to WrongExpectedVersion. Stream: p-d, Expected version: 1, Actual version: 2.", 3, true},
		{"delete-conflict-no-stream", "Delete failed due to WrongExpectedVersion. Stream: p-d, Expected version: 0, Actual version: -1.", 0, true},
		{"actual-version-without-conflict", "Stream: p-d, Actual version: 2.", 0, false},
		{"unparseable", "something else entirely", 0, false},
		{"garbage-revision", "expecting '1' but got 'x'", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := currentVersion(c.detail)
			if got != c.want || ok != c.ok {
				t.Fatalf("got %d, %v; want %d, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestAppendError(t *testing.T) {
	wrong := errors.New("wrong expected version: expecting '1' but got '2'")
	cases := []struct {
		name        string
		code        esdb.ErrorCode
		cause       error
		fallback    func() (uint64, error)
		wantActual  uint64
		concurrency bool
		server      bool
	}{
		{"from-text", esdb.ErrorCodeWrongExpectedVersion, wrong, nil, 3, true, false},
		{"from-fallback", esdb.ErrorCodeWrongExpectedVersion, errors.New("opaque"), func() (uint64, error) { return 7, nil }, 7, true, false},
		{"text-wins-over-fallback", esdb.ErrorCodeWrongExpectedVersion, wrong, func() (uint64, error) { return 99, nil }, 3, true, false},
		{"fallback-fails", esdb.ErrorCodeWrongExpectedVersion, errors.New("opaque"), func() (uint64, error) { return 0, errors.New("down") }, 0, false, false},
		{"other-code-is-server", esdb.ErrorUnavailable, errors.New("unavailable"), nil, 0, false, true},
		{"access-denied-is-server", esdb.ErrorCodeAccessDenied, errors.New("denied"), nil, 0, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := appendError("s", eventstore.Exact(2), c.code, c.cause, c.fallback)
			var ce *eventstore.ConcurrencyError
			if got := errors.As(err, &ce); got != c.concurrency {
				t.Fatalf("err = %v: ConcurrencyError %v, want %v", err, got, c.concurrency)
			}
			if c.concurrency {
				want := eventstore.ConcurrencyError{Stream: "s", Expected: eventstore.Exact(2), Actual: c.wantActual}
				if *ce != want {
					t.Fatalf("got %+v, want %+v", *ce, want)
				}
				if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
					t.Fatalf("errors.Is(ErrWrongExpectedVersion) false for %v", err)
				}
			}
			if errors.Is(err, ErrServer) != c.server {
				t.Fatalf("err = %v: errors.Is(ErrServer) = %v, want %v", err, !c.server, c.server)
			}
			if c.server && !errors.Is(err, c.cause) {
				t.Fatalf("err = %v does not keep its cause", err)
			}
		})
	}
}

func TestReadError(t *testing.T) {
	cases := []struct {
		code     esdb.ErrorCode
		notFound bool
	}{
		{esdb.ErrorCodeResourceNotFound, true},
		{esdb.ErrorCodeStreamDeleted, true},
		{esdb.ErrorCodeAccessDenied, false},
		{esdb.ErrorUnavailable, false},
		{esdb.ErrorCodeUnknown, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("code-%d", c.code), func(t *testing.T) {
			err := readError("s", c.code, errors.New("cause"))
			if errors.Is(err, eventstore.ErrStreamNotFound) != c.notFound {
				t.Fatalf("err = %v, want not-found %v", err, c.notFound)
			}
			if errors.Is(err, ErrServer) == c.notFound {
				t.Fatalf("err = %v, want server error %v", err, !c.notFound)
			}
		})
	}
}

func TestEventID(t *testing.T) {
	a := eventID("p-", "e1")
	cases := []struct {
		name   string
		prefix string
		id     string
		same   bool
	}{
		{"deterministic", "p-", "e1", true},
		{"other-id", "p-", "e2", false},
		{"other-prefix", "q-", "e1", false},
		{"no-prefix", "", "e1", false},
		{"boundary-is-not-ambiguous", "p-e", "1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := eventID(c.prefix, c.id); (got == a) != c.same {
				t.Fatalf("eventID(%q, %q) = %s, eventID(p-, e1) = %s, same = %v", c.prefix, c.id, got, a, !c.same)
			}
		})
	}
	if a.Version() != 5 || a.Variant() != uuid.RFC4122 {
		t.Fatalf("eventID is version %d variant %v, want a version-5 RFC 4122 UUID", a.Version(), a.Variant())
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		in   event.Envelope
		ct   esdb.ContentType
	}{
		{"json-with-headers", event.Envelope{
			ID: "order-1-placed", Type: "OrderPlaced", Data: json.RawMessage(`{"total":42}`), SchemaVersion: 3,
			Metadata: map[string]string{event.MetaCorrelationID: "c1", event.MetaCausationID: "k1", "x": "y"},
		}, esdb.ContentTypeJson},
		{"no-metadata-no-schema", event.Envelope{ID: "a", Type: "T", Data: json.RawMessage(`[1,2]`)}, esdb.ContentTypeJson},
		{"no-data", event.Envelope{ID: "a", Type: "T"}, esdb.ContentTypeBinary},
		{"non-json-data-is-binary", event.Envelope{ID: "a", Type: "T", Data: json.RawMessage("not json")}, esdb.ContentTypeBinary},
		{"unicode-id", event.Envelope{ID: "ébène/42 \x00", Type: "T", Data: json.RawMessage(`"s"`)}, esdb.ContentTypeJson},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := encode("p-", c.in)
			if err != nil {
				t.Fatal(err)
			}
			if d.ContentType != c.ct || d.EventType != c.in.Type || d.EventID != eventID("p-", c.in.ID) {
				t.Fatalf("event data %+v", d)
			}
			// What the server would hand back for it.
			rec := &esdb.RecordedEvent{
				EventID: d.EventID, EventType: d.EventType, StreamID: "p-order-1", EventNumber: 6,
				CreatedDate: created, Data: d.Data, UserMetadata: d.Metadata,
			}
			got := decode("p-", rec)
			want := c.in.Clone()
			want.Stream, want.Version, want.Time = "order-1", 7, created
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got  %#v\n want %#v", got, want)
			}
		})
	}
}

func TestEncodeCopiesData(t *testing.T) {
	in := event.Envelope{ID: "a", Type: "T", Data: json.RawMessage(`{"a":1}`)}
	d, err := encode("", in)
	if err != nil {
		t.Fatal(err)
	}
	in.Data[0] = 'X'
	if string(d.Data) != `{"a":1}` {
		t.Fatalf("encoded data shares the caller's slice: %s", d.Data)
	}
}

func TestEncodeMetadataDocument(t *testing.T) {
	d, err := encode("", event.Envelope{ID: "e", Type: "T", SchemaVersion: 2, Metadata: map[string]string{event.MetaCorrelationID: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(d.Metadata, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"edkitId": "e", "schemaVersion": 2.0, "headers": map[string]any{"correlation-id": "c"}, "$correlationId": "c"}
	if !reflect.DeepEqual(doc, want) {
		t.Fatalf("metadata document %v, want %v", doc, want)
	}
}

func TestDecodeForeignEvent(t *testing.T) {
	id := uuid.MustParse("0b7c3f2e-0000-4000-8000-000000000001")
	cases := []struct {
		name string
		meta []byte
	}{
		{"no-metadata", nil},
		{"not-json", []byte("garbage")},
		{"json-without-edkit-id", []byte(`{"$correlationId":"c"}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decode("", &esdb.RecordedEvent{EventID: id, EventType: "T", StreamID: "s", EventNumber: 0, UserMetadata: c.meta})
			if got.ID != id.String() || got.Stream != "s" || got.Version != 1 || got.Metadata != nil || got.SchemaVersion != 0 {
				t.Fatalf("decoded %+v", got)
			}
		})
	}
}

func TestInclude(t *testing.T) {
	cases := []struct {
		name, prefix, stream, typ string
		want                      string
		ok                        bool
	}{
		{"user-event", "", "order-1", "OrderPlaced", "order-1", true},
		{"system-event-type", "", "order-1", "$metadata", "", false},
		{"link-event", "", "$ce-order", "$>", "", false},
		{"system-stream", "", "$stats-127.0.0.1:2113", "StatsCollected", "", false},
		{"metadata-stream", "p-", "$$p-order-1", "$metadata", "", false},
		{"snapshot-stream", "p-", "p-edkit-snapshot.order-1", "edkit-snapshot", "", false},
		{"snapshot-stream-no-prefix", "", "edkit-snapshot.order-1", "edkit-snapshot", "", false},
		{"snapshot-lookalike", "p-", "p-edkit-snapshots", "T", "edkit-snapshots", true},
		{"other-stores-snapshot-stream", "p-", "edkit-snapshot.p-order-1", "edkit-snapshot", "", false},
		{"prefixed", "p-", "p-order-1", "OrderPlaced", "order-1", true},
		{"other-prefix", "p-", "q-order-1", "OrderPlaced", "", false},
		{"unprefixed-with-prefix", "p-", "order-1", "OrderPlaced", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := include(c.prefix, c.stream, c.typ)
			if got != c.want || ok != c.ok {
				t.Fatalf("include(%q, %q, %q) = %q, %v; want %q, %v", c.prefix, c.stream, c.typ, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestSubscriptionFilter(t *testing.T) {
	if got := subscriptionFilter(""); !reflect.DeepEqual(got, esdb.ExcludeSystemEventsFilter()) {
		t.Fatalf("no prefix: %+v, want the exclude-system-events filter", got)
	}
	got := subscriptionFilter("p-")
	if got.Type != esdb.StreamFilterType || !reflect.DeepEqual(got.Prefixes, []string{"p-"}) || got.Regex != "" {
		t.Fatalf("prefix: %+v, want a stream-prefix filter on p-", got)
	}
}

func TestValidPrefix(t *testing.T) {
	for _, c := range []struct {
		prefix string
		ok     bool
	}{{"", true}, {"edkit-test-", true}, {"$", false}, {"$ce-", false}} {
		if err := validPrefix(c.prefix); (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalidOption)) {
			t.Errorf("validPrefix(%q) = %v, want ok %v", c.prefix, err, c.ok)
		}
	}
}

func TestValidate(t *testing.T) {
	e := func(id string) event.Envelope { return event.Envelope{ID: id, Type: "T"} }
	cases := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		events   []event.Envelope
		ok       bool
	}{
		{"ok", "s", eventstore.Any, []event.Envelope{e("a"), e("b")}, true},
		{"exact", "s", eventstore.Exact(3), []event.Envelope{e("a")}, true},
		{"empty-stream", "", eventstore.Any, []event.Envelope{e("a")}, false},
		{"no-events", "s", eventstore.Any, nil, false},
		{"empty-id", "s", eventstore.Any, []event.Envelope{e("a"), e("")}, false},
		{"duplicate-id", "s", eventstore.Any, []event.Envelope{e("a"), e("a")}, false},
		{"unknown-expectation", "s", eventstore.ExpectedVersion(-4), []event.Envelope{e("a")}, false},
		{"reserved-snapshot-stream", "edkit-snapshot.s", eventstore.Any, []event.Envelope{e("a")}, false},
		{"snapshot-lookalike", "edkit-snapshots", eventstore.Any, []event.Envelope{e("a")}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := validate(c.stream, c.expected, c.events)
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, eventstore.ErrInvalidAppend)) {
				t.Fatalf("err = %v, want ok %v", err, c.ok)
			}
		})
	}
}

func TestRetried(t *testing.T) {
	// Stored: stream s holds x (v1), a (v2), b (v3), c (v4); stream t holds t1 (v1).
	stored := map[string]location{
		"x":  {"s", 1, 1},
		"a":  {"s", 2, 2},
		"b":  {"s", 3, 3},
		"c":  {"s", 4, 5},
		"t1": {"t", 1, 4},
	}
	byUUID := make(map[uuid.UUID]location)
	for id, l := range stored {
		byUUID[eventID("", id)] = l
	}
	lookup := func(u uuid.UUID) (location, bool) { l, ok := byUUID[u]; return l, ok }
	const current = 4
	cases := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		ids      []string
		done     bool
		res      eventstore.AppendResult
		wrongExp bool
		conflict bool
	}{
		{"new", "s", eventstore.Exact(4), []string{"n1", "n2"}, false, eventstore.AppendResult{}, false, false},
		{"exact-same-place", "s", eventstore.Exact(1), []string{"a", "b"}, true, eventstore.AppendResult{NextExpected: 3, Position: 3}, false, false},
		{"any", "s", eventstore.Any, []string{"c"}, true, eventstore.AppendResult{NextExpected: 4, Position: 5}, false, false},
		{"stream-exists", "s", eventstore.StreamExists, []string{"a", "b"}, true, eventstore.AppendResult{NextExpected: 3, Position: 3}, false, false},
		{"no-stream-at-start", "t", eventstore.NoStream, []string{"t1"}, true, eventstore.AppendResult{NextExpected: 1, Position: 4}, false, false},
		{"exact-0-at-start", "s", eventstore.Exact(0), []string{"x"}, true, eventstore.AppendResult{NextExpected: 1, Position: 1}, false, false},
		{"exact-wrong-place", "s", eventstore.Exact(2), []string{"a", "b"}, true, eventstore.AppendResult{}, true, false},
		{"no-stream-wrong-place", "s", eventstore.NoStream, []string{"a"}, true, eventstore.AppendResult{}, true, false},
		{"partial-overlap", "s", eventstore.Any, []string{"b", "new"}, true, eventstore.AppendResult{}, false, true},
		{"out-of-order", "s", eventstore.Any, []string{"b", "a"}, true, eventstore.AppendResult{}, false, true},
		{"gap", "s", eventstore.Any, []string{"a", "c"}, true, eventstore.AppendResult{}, false, true},
		{"other-stream", "u", eventstore.Any, []string{"t1"}, true, eventstore.AppendResult{}, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			uuids := make([]uuid.UUID, len(c.ids))
			for i, id := range c.ids {
				uuids[i] = eventID("", id)
			}
			res, done, err := retried(c.stream, c.expected, uuids, c.ids, lookup, current)
			if done != c.done {
				t.Fatalf("done = %v, want %v (err %v)", done, c.done, err)
			}
			switch {
			case c.wrongExp:
				var ce *eventstore.ConcurrencyError
				if !errors.As(err, &ce) || ce.Actual != current || ce.Expected != c.expected {
					t.Fatalf("err = %v, want *ConcurrencyError with Actual %d", err, current)
				}
			case c.conflict:
				if !errors.Is(err, eventstore.ErrIdempotencyConflict) {
					t.Fatalf("err = %v, want ErrIdempotencyConflict", err)
				}
			default:
				if err != nil || res != c.res {
					t.Fatalf("got %+v, %v; want %+v", res, err, c.res)
				}
			}
		})
	}
}

func TestSubscriptionStart(t *testing.T) {
	known := []esdb.Position{{Commit: 100, Prepare: 100}, {Commit: 250, Prepare: 250}, {Commit: 900, Prepare: 880}}
	cases := []struct {
		name      string
		from      uint64
		known     []esdb.Position
		wantStart esdb.AllPosition
		wantNext  uint64
	}{
		{"from-0-is-start", 0, known, esdb.Start{}, 1},
		{"from-1-is-start", 1, known, esdb.Start{}, 1},
		{"empty-index", 5, nil, esdb.Start{}, 1},
		{"from-2-after-ordinal-1", 2, known, known[0], 2},
		{"from-3-after-ordinal-2", 3, known, known[1], 3},
		{"just-past-end", 4, known, known[2], 4},
		{"future", 10, known, known[2], 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start, next := subscriptionStart(c.from, c.known)
			if !reflect.DeepEqual(start, c.wantStart) || next != c.wantNext {
				t.Fatalf("got %#v, %d; want %#v, %d", start, next, c.wantStart, c.wantNext)
			}
		})
	}
}

func TestDeleteError(t *testing.T) {
	cases := []struct {
		name        string
		code        esdb.ErrorCode
		cause       error
		fallback    func() (uint64, error)
		wantActual  uint64
		concurrency bool
	}{
		// The client reports a failed delete expectation with code Unknown
		// and the server's status message.
		{"status-text", esdb.ErrorCodeUnknown, errors.New("rpc error: code = FailedPrecondition desc = Delete failed due to WrongExpectedVersion. Stream: p-s, Expected version: 1, Actual version: 4."), nil, 5, true},
		{"status-text-without-version", esdb.ErrorCodeUnknown, errors.New("Delete failed due to WrongExpectedVersion."), func() (uint64, error) { return 6, nil }, 6, true},
		{"code", esdb.ErrorCodeWrongExpectedVersion, errors.New("opaque"), func() (uint64, error) { return 2, nil }, 2, true},
		{"unavailable", esdb.ErrorUnavailable, errors.New("unavailable"), nil, 0, false},
		{"other-unknown", esdb.ErrorCodeUnknown, errors.New("rpc error: code = Internal desc = boom"), nil, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := deleteError("s", eventstore.Exact(2), c.code, c.cause, c.fallback)
			var ce *eventstore.ConcurrencyError
			if errors.As(err, &ce) != c.concurrency {
				t.Fatalf("err = %v, want concurrency error %v", err, c.concurrency)
			}
			if c.concurrency && (ce.Actual != c.wantActual || ce.Expected != eventstore.Exact(2) || ce.Stream != "s") {
				t.Fatalf("got %+v, want actual %d", *ce, c.wantActual)
			}
			if !c.concurrency && (!errors.Is(err, ErrServer) || !errors.Is(err, c.cause)) {
				t.Fatalf("err = %v, want ErrServer keeping its cause", err)
			}
		})
	}
}

func TestServerExpectation(t *testing.T) {
	missing := eventstore.StreamState{}
	live := eventstore.StreamState{Last: 3}
	trimmed := eventstore.StreamState{Last: 3, Metadata: eventstore.StreamMetadata{TruncateBefore: 3, MaxCount: 1}}
	deleted := eventstore.StreamState{Last: 3, Metadata: eventstore.StreamMetadata{TruncateBefore: 4}}
	cases := []struct {
		name     string
		expected eventstore.ExpectedVersion
		st       eventstore.StreamState
		want     esdb.ExpectedRevision // nil: a *ConcurrencyError
	}{
		{"no-stream-missing", eventstore.NoStream, missing, esdb.NoStream{}},
		{"no-stream-live", eventstore.NoStream, live, nil},
		{"no-stream-trimmed-is-live", eventstore.NoStream, trimmed, nil},
		// The server is not trusted to count a soft-deleted stream as no
		// stream: it gets the last revision instead.
		{"no-stream-deleted", eventstore.NoStream, deleted, esdb.Revision(2)},
		{"exact-0-deleted", eventstore.Exact(0), deleted, esdb.Revision(2)},
		{"stream-exists-live", eventstore.StreamExists, live, esdb.StreamExists{}},
		{"stream-exists-deleted", eventstore.StreamExists, deleted, nil},
		{"stream-exists-missing", eventstore.StreamExists, missing, nil},
		{"exact-live", eventstore.Exact(3), live, esdb.Revision(2)},
		{"exact-deleted-continues", eventstore.Exact(3), deleted, esdb.Revision(2)},
		{"exact-wrong", eventstore.Exact(2), live, nil},
		{"any-deleted", eventstore.Any, deleted, esdb.Any{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := serverExpectation("s", c.expected, c.st)
			if c.want == nil {
				var ce *eventstore.ConcurrencyError
				if !errors.As(err, &ce) || ce.Actual != c.st.Last {
					t.Fatalf("got %#v, %v; want *ConcurrencyError with actual %d", got, err, c.st.Last)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, c.want)
			}
		})
	}
}

func TestServerMetadataRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		md   eventstore.StreamMetadata
		wire string // what EventStoreDB stores in $$stream
	}{
		{"none", eventstore.StreamMetadata{}, `{}`},
		{"max-count", eventstore.StreamMetadata{MaxCount: 2}, `{"$maxCount":2}`},
		{"truncate-before-3-is-tb-2", eventstore.StreamMetadata{TruncateBefore: 3}, `{"$tb":2}`},
		{"truncate-before-1-is-tb-0", eventstore.StreamMetadata{TruncateBefore: 1}, `{"$tb":0}`},
		{"both", eventstore.StreamMetadata{MaxCount: 3, TruncateBefore: 5}, `{"$maxCount":3,"$tb":4}`},
		{"past-last-is-soft-delete", eventstore.StreamMetadata{TruncateBefore: 11}, `{"$tb":10}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := toServerMetadata(c.md)
			wire, err := m.ToJson()
			if err != nil {
				t.Fatal(err)
			}
			if !jsonSame(t, wire, c.wire) {
				t.Fatalf("wire %s, want %s", wire, c.wire)
			}
			// Back through JSON, as GetStreamMetadata parses it.
			parsed, err := esdb.StreamMetadataFromJson(wire)
			if err != nil {
				t.Fatal(err)
			}
			if got := fromServerMetadata(parsed, 10); got != c.md {
				t.Fatalf("round trip %+v, want %+v", got, c.md)
			}
		})
	}
}

func jsonSame(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(a, b)
}

func TestFromServerMetadata(t *testing.T) {
	cases := []struct {
		name   string
		wire   string // nil metadata when empty
		last   uint64
		want   eventstore.StreamMetadata
		exists bool // StreamState{last, want}.Exists()
	}{
		{"no-metadata", "", 4, eventstore.StreamMetadata{}, true},
		{"empty", `{}`, 4, eventstore.StreamMetadata{}, true},
		// EventStoreDB's soft delete writes $tb = long.MaxValue; it reads
		// back as one past the last version, as memstore's delete sets it.
		{"soft-delete-marker", `{"$tb":9223372036854775807}`, 4, eventstore.StreamMetadata{TruncateBefore: 5}, false},
		{"soft-delete-marker-keeps-max-count", `{"$tb":9223372036854775807,"$maxCount":7}`, 4, eventstore.StreamMetadata{TruncateBefore: 5, MaxCount: 7}, false},
		// Recreating a soft-deleted stream makes the server rewrite $tb to
		// the first new revision (old last revision 3, new event revision 4).
		{"recreated", `{"$tb":4}`, 5, eventstore.StreamMetadata{TruncateBefore: 5}, true},
		{"tb-at-last-revision", `{"$tb":3}`, 4, eventstore.StreamMetadata{TruncateBefore: 4}, true},
		{"tb-past-last-revision", `{"$tb":4}`, 4, eventstore.StreamMetadata{TruncateBefore: 5}, false},
		{"foreign-properties-dropped", `{"$maxAge":60,"$acl":{"$r":"$all"},"owner":"x","$maxCount":2}`, 4, eventstore.StreamMetadata{MaxCount: 2}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m *esdb.StreamMetadata
			if c.wire != "" {
				var err error
				if m, err = esdb.StreamMetadataFromJson([]byte(c.wire)); err != nil {
					t.Fatal(err)
				}
			}
			got := fromServerMetadata(m, c.last)
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			if ex := (eventstore.StreamState{Last: c.last, Metadata: got}).Exists(); ex != c.exists {
				t.Fatalf("exists = %v, want %v", ex, c.exists)
			}
		})
	}
}

func TestBackwardsStart(t *testing.T) {
	cases := []struct {
		name string
		from uint64
		last uint64
		want esdb.StreamPosition
	}{
		{"end", eventstore.End, 5, esdb.End{}},
		{"past-the-end", 99, 5, esdb.End{}},
		{"just-past-the-end", 6, 5, esdb.End{}},
		{"last", 5, 5, esdb.Revision(4)},
		{"middle", 3, 5, esdb.Revision(2)},
		{"first", 1, 5, esdb.Revision(0)},
		{"unknown-stream", 3, 0, esdb.End{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := backwardsStart(c.from, c.last); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestStreamSubscriptionStart(t *testing.T) {
	// Subscriptions start after the given revision: version v is revision
	// v-1, so from v starts after revision v-2.
	cases := []struct {
		from uint64
		want esdb.StreamPosition
	}{
		{0, esdb.Start{}},
		{1, esdb.Start{}},
		{2, esdb.Revision(0)},
		{60, esdb.Revision(58)},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("from-%d", c.from), func(t *testing.T) {
			if got := streamSubscriptionStart(c.from); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestEventTypeRegex(t *testing.T) {
	re := regexp.MustCompile(eventTypeRegex([]string{"Placed", "A.B", "C|D", "$x(y)"}))
	cases := []struct {
		typ  string
		want bool
	}{
		{"Placed", true}, {"A.B", true}, {"C|D", true}, {"$x(y)", true},
		{"PlacedLater", false}, {"OrderPlaced", false}, {"AxB", false}, {"C", false}, {"D", false}, {"$xy", false}, {"", false},
	}
	for _, c := range cases {
		if got := re.MatchString(c.typ); got != c.want {
			t.Errorf("%q matches %v, want %v (regex %s)", c.typ, got, c.want, re)
		}
	}
}

// serverPasses emulates EventStoreDB's SubscriptionFilter on one event:
// stream or event-type filters, each by prefixes or regex.
func serverPasses(t *testing.T, f *esdb.SubscriptionFilter, streamID, eventType string) bool {
	t.Helper()
	subject := eventType
	if f.Type == esdb.StreamFilterType {
		subject = streamID
	}
	if f.Regex != "" {
		return regexp.MustCompile(f.Regex).MatchString(subject)
	}
	for _, p := range f.Prefixes {
		if strings.HasPrefix(subject, p) {
			return true
		}
	}
	return false
}

func TestUserFilter(t *testing.T) {
	type ev struct{ stream, typ string } // EventStoreDB stream names
	log := []ev{
		{"p-order-1", "Placed"}, {"p-order-1", "Paid"}, {"p-stock-1", "Reserved"}, {"p-orders-archive", "Placed"},
		{"q-order-1", "Placed"}, {"order-1", "Placed"}, {"$$p-order-1", "$metadata"}, {"p-edkit-snapshot.order-1", "edkit-snapshot"},
		{"p-order-2", "Placed.v2"}, {"p-zzz", "End"},
	}
	cases := []struct {
		name       string
		filter     eventstore.Filter
		wantType   esdb.FilterType
		wantServer int // events the server sends
		want       []string
	}{
		{"none", eventstore.Filter{}, esdb.StreamFilterType, 7, []string{"order-1/Placed", "order-1/Paid", "stock-1/Reserved", "orders-archive/Placed", "order-2/Placed.v2", "zzz/End"}},
		{"stream-prefix", eventstore.Filter{StreamPrefixes: []string{"order-"}}, esdb.StreamFilterType, 3, []string{"order-1/Placed", "order-1/Paid", "order-2/Placed.v2"}},
		{"event-type", eventstore.Filter{EventTypes: []string{"Placed"}}, esdb.EventFilterType, 4, []string{"order-1/Placed", "orders-archive/Placed"}},
		{"both", eventstore.Filter{StreamPrefixes: []string{"order-", "stock-"}, EventTypes: []string{"Paid", "Reserved"}}, esdb.StreamFilterType, 4, []string{"order-1/Paid", "stock-1/Reserved"}},
		{"nothing", eventstore.Filter{EventTypes: []string{"Nothing"}}, esdb.EventFilterType, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := userFilter("p-", c.filter)
			if f.Type != c.wantType {
				t.Fatalf("filter type %v, want %v", f.Type, c.wantType)
			}
			sent := 0
			var got []string
			for _, e := range log {
				if !serverPasses(t, f, e.stream, e.typ) {
					continue
				}
				sent++
				// What the adapter's SubscribeAll does with each event.
				stream, ok := include("p-", e.stream, e.typ)
				if !ok || !c.filter.Match(event.Envelope{Stream: stream, Type: e.typ}) {
					continue
				}
				got = append(got, stream+"/"+e.typ)
			}
			if sent != c.wantServer || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("server sent %d (want %d), delivered %v, want %v", sent, c.wantServer, got, c.want)
			}
			// The server filter must never drop what the edkit filter keeps.
			for _, e := range log {
				stream, ok := include("p-", e.stream, e.typ)
				if ok && c.filter.Match(event.Envelope{Stream: stream, Type: e.typ}) && !serverPasses(t, f, e.stream, e.typ) {
					t.Fatalf("server filter %+v drops %v", f, e)
				}
			}
		})
	}
	if f := userFilter("", eventstore.Filter{}); !reflect.DeepEqual(f, esdb.ExcludeSystemEventsFilter()) {
		t.Fatalf("empty filter without prefix: %+v", f)
	}
}

func TestOrdinalOf(t *testing.T) {
	known := []esdb.Position{{Commit: 100, Prepare: 100}, {Commit: 250, Prepare: 240}, {Commit: 250, Prepare: 250}, {Commit: 900, Prepare: 880}}
	cases := []struct {
		name  string
		known []esdb.Position
		p     esdb.Position
		want  uint64
		ok    bool
	}{
		{"first", known, known[0], 1, true},
		{"same-commit-lower-prepare", known, known[1], 2, true},
		{"same-commit-higher-prepare", known, known[2], 3, true},
		{"last", known, known[3], 4, true},
		{"between", known, esdb.Position{Commit: 300, Prepare: 300}, 0, false},
		{"before-first", known, esdb.Position{Commit: 1, Prepare: 1}, 0, false},
		{"after-last", known, esdb.Position{Commit: 901, Prepare: 901}, 0, false},
		{"prepare-mismatch", known, esdb.Position{Commit: 100, Prepare: 99}, 0, false},
		{"empty", nil, known[0], 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ordinalOf(c.known, c.p)
			if got != c.want || ok != c.ok {
				t.Fatalf("got %d, %v; want %d, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	saved := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	in := eventstore.Snapshot{Stream: "order-1", Version: 7, Type: "Order", SchemaVersion: 2, Data: json.RawMessage(`{"n":7}`), Time: time.Unix(1, 0)}
	d, err := encodeSnapshot(in)
	if err != nil {
		t.Fatal(err)
	}
	if d.EventType != snapshotEventType || strings.HasPrefix(d.EventType, "$") || d.ContentType != esdb.ContentTypeJson || d.EventID == uuid.Nil {
		t.Fatalf("event data %+v", d)
	}
	got, err := decodeSnapshot("order-1", &esdb.RecordedEvent{StreamID: "p-edkit-snapshot.order-1", EventNumber: 3, Data: d.Data, CreatedDate: saved})
	if err != nil {
		t.Fatal(err)
	}
	want := in.Clone()
	want.Time = saved // the server's clock, not the caller's
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, want)
	}
	if _, err := decodeSnapshot("s", &esdb.RecordedEvent{Data: []byte("not json")}); err == nil {
		t.Fatal("decoding garbage succeeded")
	}
	if n := snapshotStream("p-", "order-1"); n != "p-edkit-snapshot.order-1" || strings.HasPrefix(n, "$") || !reserved(strings.TrimPrefix(n, "p-")) {
		t.Fatalf("snapshot stream %q", n)
	}
}

func TestNotFound(t *testing.T) {
	for code, want := range map[esdb.ErrorCode]bool{
		esdb.ErrorCodeResourceNotFound: true, esdb.ErrorCodeStreamDeleted: true,
		esdb.ErrorCodeUnknown: false, esdb.ErrorCodeWrongExpectedVersion: false, esdb.ErrorCodeAccessDenied: false,
	} {
		if notFound(code) != want {
			t.Errorf("notFound(%d) = %v, want %v", code, !want, want)
		}
	}
}
