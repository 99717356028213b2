package kurrentstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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
