package eventstoretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// maxSubscriptionBuffer bounds what a backend may buffer per subscription:
// a slow subscriber must hold the feed back, not grow the store's memory.
const maxSubscriptionBuffer = 1024

func readStream(t *testing.T, s eventstore.Store, stream string, from uint64, limit int) []string {
	t.Helper()
	got, err := s.ReadStream(context.Background(), stream, from, limit)
	if err != nil {
		t.Fatalf("read %s from %d limit %d: %v", stream, from, limit, err)
	}
	return ids(got)
}

func readBackwards(t *testing.T, s eventstore.Store, stream string, from uint64, limit int) []event.Envelope {
	t.Helper()
	got, err := s.ReadStreamBackwards(context.Background(), stream, from, limit)
	if err != nil {
		t.Fatalf("read %s backwards from %d limit %d: %v", stream, from, limit, err)
	}
	return got
}

func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(want) == 0 {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func setMeta(t *testing.T, s eventstore.Store, stream string, md eventstore.StreamMetadata) {
	t.Helper()
	if err := s.SetStreamMetadata(context.Background(), stream, md); err != nil {
		t.Fatalf("set metadata %s %+v: %v", stream, md, err)
	}
}

func testReadBackwards(t *testing.T, s eventstore.Store) {
	t.Helper()
	mustAppend(t, s, "b", eventstore.NoStream, "e1", "e2", "e3", "e4", "e5")
	mustAppend(t, s, "other", eventstore.NoStream, "x1")

	all := readBackwards(t, s, "b", eventstore.End, 0)
	wantIDs(t, "backwards from End", ids(all), "e5", "e4", "e3", "e2", "e1")
	for i, e := range all {
		if want := uint64(5 - i); e.Version != want || e.Stream != "b" {
			t.Fatalf("event %d: stream %q version %d, want b %d", i, e.Stream, e.Version, want)
		}
	}
	wantIDs(t, "backwards from 3 limit 2", ids(readBackwards(t, s, "b", 3, 2)), "e3", "e2")
	wantIDs(t, "backwards from past the end limit 1", ids(readBackwards(t, s, "b", 99, 1)), "e5")
	wantIDs(t, "backwards from 1", ids(readBackwards(t, s, "b", 1, 0)), "e1")
	wantIDs(t, "backwards from 0", ids(readBackwards(t, s, "b", 0, 0)))

	if _, err := s.ReadStreamBackwards(context.Background(), "missing", eventstore.End, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("backwards read of a missing stream: %v, want ErrStreamNotFound", err)
	}
}

func testMetadataMaxCount(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	md, err := s.StreamMetadata(ctx, "m")
	if err != nil || md != (eventstore.StreamMetadata{}) {
		t.Fatalf("metadata of a fresh stream: %+v %v, want zero", md, err)
	}
	// Set before the stream exists: it applies once events arrive.
	setMeta(t, s, "m", eventstore.StreamMetadata{MaxCount: 2})
	mustAppend(t, s, "m", eventstore.NoStream, "e1", "e2", "e3")
	mustAppend(t, s, "m", eventstore.Exact(3), "e4", "e5")

	if md, err := s.StreamMetadata(ctx, "m"); err != nil || md.MaxCount != 2 {
		t.Fatalf("metadata round trip: %+v %v, want MaxCount 2", md, err)
	}
	wantIDs(t, "forwards with max count 2", readStream(t, s, "m", 1, 0), "e4", "e5")
	wantIDs(t, "forwards from 5 with max count 2", readStream(t, s, "m", 5, 0), "e5")
	wantIDs(t, "backwards with max count 2", ids(readBackwards(t, s, "m", eventstore.End, 0)), "e5", "e4")
	wantIDs(t, "backwards from 3 with max count 2", ids(readBackwards(t, s, "m", 3, 0)))
	// The global log keeps every event.
	if n := len(readAll(t, s)); n != 5 {
		t.Fatalf("read all after max count: %d events, want 5", n)
	}
	// Expectations still see the real version.
	mustAppend(t, s, "m", eventstore.Exact(5), "e6")
	wantIDs(t, "after another append", readStream(t, s, "m", 1, 0), "e5", "e6")

	setMeta(t, s, "m", eventstore.StreamMetadata{})
	wantIDs(t, "metadata cleared", readStream(t, s, "m", 1, 0), "e1", "e2", "e3", "e4", "e5", "e6")
}

func testMetadataTruncateBefore(t *testing.T, s eventstore.Store) {
	t.Helper()
	mustAppend(t, s, "tb", eventstore.NoStream, "e1", "e2", "e3", "e4", "e5")
	setMeta(t, s, "tb", eventstore.StreamMetadata{TruncateBefore: 3})
	wantIDs(t, "forwards with truncate-before 3", readStream(t, s, "tb", 1, 0), "e3", "e4", "e5")
	wantIDs(t, "forwards from 4 limit 1", readStream(t, s, "tb", 4, 1), "e4")
	wantIDs(t, "backwards with truncate-before 3", ids(readBackwards(t, s, "tb", eventstore.End, 0)), "e5", "e4", "e3")
	wantIDs(t, "backwards from 2", ids(readBackwards(t, s, "tb", 2, 0)))

	// Both rules together: the stricter one wins.
	setMeta(t, s, "tb", eventstore.StreamMetadata{TruncateBefore: 2, MaxCount: 2})
	wantIDs(t, "truncate-before 2 and max count 2", readStream(t, s, "tb", 1, 0), "e4", "e5")
	setMeta(t, s, "tb", eventstore.StreamMetadata{TruncateBefore: 5, MaxCount: 3})
	wantIDs(t, "truncate-before 5 and max count 3", readStream(t, s, "tb", 1, 0), "e5")
}

func testSoftDelete(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.DeleteStream(ctx, "never", eventstore.Any); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("delete of a missing stream: %v, want ErrStreamNotFound", err)
	}
	mustAppend(t, s, "d", eventstore.NoStream, "e1", "e2", "e3")
	mustSnapshot(t, s, "d", 3, `{"n":3}`)

	var ce *eventstore.ConcurrencyError
	if err := s.DeleteStream(ctx, "d", eventstore.Exact(2)); !errors.As(err, &ce) || ce.Actual != 3 {
		t.Fatalf("delete at the wrong version: %v, want *ConcurrencyError with actual 3", err)
	}
	wantIDs(t, "a failed delete changes nothing", readStream(t, s, "d", 1, 0), "e1", "e2", "e3")
	if err := s.DeleteStream(ctx, "d", eventstore.Exact(3)); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.ReadStream(ctx, "d", 1, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("read of a deleted stream: %v, want ErrStreamNotFound", err)
	}
	if _, err := s.ReadStreamBackwards(ctx, "d", eventstore.End, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("backwards read of a deleted stream: %v, want ErrStreamNotFound", err)
	}
	if _, err := s.LoadSnapshot(ctx, "d"); !errors.Is(err, eventstore.ErrSnapshotNotFound) {
		t.Fatalf("snapshot of a deleted stream: %v, want ErrSnapshotNotFound", err)
	}
	if n := len(readAll(t, s)); n != 3 {
		t.Fatalf("read all after delete: %d events, want 3 (soft delete keeps the log)", n)
	}
	if err := s.DeleteStream(ctx, "d", eventstore.Any); err != nil {
		t.Fatalf("second delete: %v, want a no-op", err)
	}
	if _, err := s.Append(ctx, "d", eventstore.StreamExists, ev("x")); !errors.As(err, &ce) {
		t.Fatalf("append expecting a deleted stream to exist: %v, want *ConcurrencyError", err)
	}
	// Recreated: versions continue, the deleted events stay hidden.
	res := mustAppend(t, s, "d", eventstore.NoStream, "e4")
	if res.NextExpected != 4 {
		t.Fatalf("append to a deleted stream: next expected %d, want 4 (numbering continues)", res.NextExpected)
	}
	got, err := s.ReadStream(ctx, "d", 1, 0)
	if err != nil || len(got) != 1 || got[0].ID != "e4" || got[0].Version != 4 {
		t.Fatalf("read of a recreated stream: %v %v, want only e4 at version 4", ids(got), err)
	}
	mustAppend(t, s, "d", eventstore.StreamExists, "e5")
}

func mustSnapshot(t *testing.T, s eventstore.Store, stream string, version uint64, data string) {
	t.Helper()
	snap := eventstore.Snapshot{Stream: stream, Version: version, Type: "Count", SchemaVersion: 1, Data: json.RawMessage(data)}
	if err := s.SaveSnapshot(context.Background(), snap); err != nil {
		t.Fatalf("save snapshot %s@%d: %v", stream, version, err)
	}
}

func testSnapshots(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.LoadSnapshot(ctx, "s"); !errors.Is(err, eventstore.ErrSnapshotNotFound) {
		t.Fatalf("load with no snapshot: %v, want ErrSnapshotNotFound", err)
	}
	mustAppend(t, s, "s", eventstore.NoStream, "e1", "e2", "e3")
	for _, bad := range []eventstore.Snapshot{
		{Stream: "s", Version: 0, Data: json.RawMessage(`{}`)},
		{Stream: "s", Version: 4, Data: json.RawMessage(`{}`)},
		{Stream: "", Version: 1, Data: json.RawMessage(`{}`)},
		{Stream: "missing", Version: 1, Data: json.RawMessage(`{}`)},
	} {
		if err := s.SaveSnapshot(ctx, bad); !errors.Is(err, eventstore.ErrInvalidSnapshot) {
			t.Fatalf("save %+v: %v, want ErrInvalidSnapshot", bad, err)
		}
	}
	mustSnapshot(t, s, "s", 2, `{"n":2}`)
	got, err := s.LoadSnapshot(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if got.Stream != "s" || got.Version != 2 || got.Type != "Count" || got.SchemaVersion != 1 || string(got.Data) != `{"n":2}` || got.Time.IsZero() {
		t.Fatalf("loaded %+v, want stream s version 2 type Count v1 data {\"n\":2} and a save time", got)
	}
	got.Data[0] = 'X' // the store hands out copies
	mustSnapshot(t, s, "s", 1, `{"n":1}`)
	if again, _ := s.LoadSnapshot(ctx, "s"); again.Version != 2 || string(again.Data) != `{"n":2}` {
		t.Fatalf("after saving an older snapshot: %+v, want version 2 kept", again)
	}
	mustSnapshot(t, s, "s", 3, `{"n":3}`)
	if again, _ := s.LoadSnapshot(ctx, "s"); again.Version != 3 || string(again.Data) != `{"n":3}` {
		t.Fatalf("after saving a newer snapshot: %+v, want version 3", again)
	}
	if _, err := s.LoadSnapshot(ctx, "other"); !errors.Is(err, eventstore.ErrSnapshotNotFound) {
		t.Fatalf("load for another stream: %v, want ErrSnapshotNotFound", err)
	}
}

func typed(id, typ string) event.Envelope {
	e := ev(id)
	e.Type = typ
	return e
}

func testSubscribeFiltered(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	appendTyped := func(stream string, es ...event.Envelope) {
		t.Helper()
		if _, err := s.Append(ctx, stream, eventstore.Any, es...); err != nil {
			t.Fatal(err)
		}
	}
	appendTyped("order-1", typed("o1", "Placed"), typed("o2", "Paid"))
	appendTyped("stock-1", typed("s1", "Reserved"))
	appendTyped("orders-archive", typed("a1", "Placed"))

	cases := []struct {
		name   string
		filter eventstore.Filter
		want   []string // catch-up then live
	}{
		{"stream prefix", eventstore.Filter{StreamPrefixes: []string{"order-"}}, []string{"o1", "o2", "o3"}},
		{"event type", eventstore.Filter{EventTypes: []string{"Placed"}}, []string{"o1", "a1", "o3"}},
		{"both", eventstore.Filter{StreamPrefixes: []string{"order-", "stock-"}, EventTypes: []string{"Paid", "Reserved"}}, []string{"o2", "s1", "s2"}},
		{"none matches", eventstore.Filter{EventTypes: []string{"Nothing"}}, nil},
	}
	subs := make([]*eventstore.Subscription, len(cases))
	for i, c := range cases {
		sub, err := s.SubscribeAll(ctx, 1, eventstore.WithFilter(c.filter))
		if err != nil {
			t.Fatalf("%s: subscribe: %v", c.name, err)
		}
		subs[i] = sub
	}
	appendTyped("order-2", typed("o3", "Placed"))
	appendTyped("stock-2", typed("s2", "Reserved"))
	appendTyped("zzz", typed("end", "End"))
	for i, c := range cases {
		got := receive(t, subs[i], len(c.want))
		wantIDs(t, c.name, ids(got), c.want...)
		var last uint64
		for _, e := range got {
			if e.Position <= last {
				t.Fatalf("%s: positions out of order: %v", c.name, got)
			}
			last = e.Position
		}
	}
	// The filtered-out tail must not show up as an extra event.
	end, err := s.SubscribeAll(ctx, 1, eventstore.WithFilter(eventstore.Filter{EventTypes: []string{"End"}}))
	if err != nil {
		t.Fatal(err)
	}
	if got := receive(t, end, 1); got[0].ID != "end" {
		t.Fatalf("filter by End: got %s", got[0].ID)
	}
}

func testSubscribeStream(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mustAppend(t, s, "a", eventstore.NoStream, "a1", "a2")
	mustAppend(t, s, "b", eventstore.NoStream, "b1")

	fromStart, err := s.SubscribeStream(ctx, "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	fromTwo, err := s.SubscribeStream(ctx, "a", 2)
	if err != nil {
		t.Fatal(err)
	}
	notYet, err := s.SubscribeStream(ctx, "c", 1)
	if err != nil {
		t.Fatalf("subscribe to a stream that does not exist yet: %v", err)
	}

	// Live appends race with the catch-up of the subscriptions above.
	const n = 60
	var wg sync.WaitGroup
	wg.Add(2)
	for _, stream := range []string{"a", "b"} {
		go func() {
			defer wg.Done()
			for i := range n {
				if _, err := s.Append(ctx, stream, eventstore.Any, ev(fmt.Sprintf("%s-live-%d", stream, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	mustAppend(t, s, "c", eventstore.NoStream, "c1")
	wg.Wait()

	check := func(name string, sub *eventstore.Subscription, from uint64, count int) {
		t.Helper()
		got := receive(t, sub, count)
		for i, e := range got {
			if e.Stream != "a" || e.Version != from+uint64(i) {
				t.Fatalf("%s: event %d is %s@%d, want a@%d", name, i, e.Stream, e.Version, from+uint64(i))
			}
		}
	}
	check("from 1", fromStart, 1, n+2)
	check("from 2", fromTwo, 2, n+1)
	if got := receive(t, notYet, 1); got[0].ID != "c1" || got[0].Version != 1 {
		t.Fatalf("subscription to a new stream got %s@%d, want c1@1", got[0].ID, got[0].Version)
	}

	// Catch-up skips what truncate-before hides.
	setMeta(t, s, "b", eventstore.StreamMetadata{TruncateBefore: n})
	sub, err := s.SubscribeStream(ctx, "b", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := receive(t, sub, 1); got[0].Version != n {
		t.Fatalf("subscription with truncate-before %d started at version %d", n, got[0].Version)
	}

	cancel()
	waitClosed(t, fromStart)
	if err := fromStart.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after cancel = %v, want context.Canceled", err)
	}
}

func testSubscriptionBounded(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all, err := s.SubscribeAll(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	one, err := s.SubscribeStream(ctx, "x", 1)
	if err != nil {
		t.Fatal(err)
	}
	for name, sub := range map[string]*eventstore.Subscription{"all": all, "stream": one} {
		if c := cap(sub.C); c > maxSubscriptionBuffer {
			t.Fatalf("%s subscription buffers %d events, want at most %d: a slow subscriber would grow memory", name, c, maxSubscriptionBuffer)
		}
	}
}

// upcasters for the suite: OrderPlaced v1 {"amount":n} becomes v2
// {"amount":n,"currency":"EUR"}, and v2 becomes OrderSubmitted v3
// {"total":{"amount":n,"currency":c}}.
func suiteUpcasters(t *testing.T) *eventstore.Upcasters {
	t.Helper()
	u, err := eventstore.NewUpcasters(
		eventstore.Upcaster{Type: "OrderPlaced", From: 1, Up: func(e event.Envelope) (event.Envelope, error) {
			var v1 struct {
				Amount int `json:"amount"`
			}
			if err := json.Unmarshal(e.Data, &v1); err != nil {
				return e, err
			}
			e.Data, _ = json.Marshal(map[string]any{"amount": v1.Amount, "currency": "EUR"})
			e.SchemaVersion = 2
			return e, nil
		}},
		eventstore.Upcaster{Type: "OrderPlaced", From: 2, Up: func(e event.Envelope) (event.Envelope, error) {
			var v2 map[string]any
			if err := json.Unmarshal(e.Data, &v2); err != nil {
				return e, err
			}
			e.Data, _ = json.Marshal(map[string]any{"total": v2})
			e.Type, e.SchemaVersion = "OrderSubmitted", 3
			return e, nil
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func testUpcasting(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old := []event.Envelope{
		{ID: "v1", Type: "OrderPlaced", SchemaVersion: 1, Data: json.RawMessage(`{"amount":5}`)},
		{ID: "v0", Type: "OrderPlaced", Data: json.RawMessage(`{"amount":6}`)}, // written before schema versions
		{ID: "v2", Type: "OrderPlaced", SchemaVersion: 2, Data: json.RawMessage(`{"amount":7,"currency":"USD"}`)},
		{ID: "v3", Type: "OrderSubmitted", SchemaVersion: 3, Data: json.RawMessage(`{"total":{"amount":8,"currency":"GBP"}}`)},
		{ID: "other", Type: "Unrelated", SchemaVersion: 1, Data: json.RawMessage(`{"x":1}`)},
	}
	if _, err := s.Append(ctx, "up", eventstore.NoStream, old...); err != nil {
		t.Fatal(err)
	}
	stored, err := s.ReadStream(ctx, "up", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	up := eventstore.Upcasting(s, suiteUpcasters(t))
	want := []string{
		`{"total":{"amount":5,"currency":"EUR"}}`,
		`{"total":{"amount":6,"currency":"EUR"}}`,
		`{"total":{"amount":7,"currency":"USD"}}`,
		`{"total":{"amount":8,"currency":"GBP"}}`,
	}
	checkUp := func(what string, got []event.Envelope) {
		t.Helper()
		if len(got) != len(old) {
			t.Fatalf("%s: %d events, want %d", what, len(got), len(old))
		}
		for i, e := range got {
			if e.ID != stored[i].ID || e.Version != stored[i].Version || e.Position != stored[i].Position || e.Stream != "up" {
				t.Fatalf("%s: event %d identity changed: %+v, stored %+v", what, i, e, stored[i])
			}
			if i == len(old)-1 {
				if e.Type != "Unrelated" || string(e.Data) != `{"x":1}` {
					t.Fatalf("%s: an event with no upcaster changed: %+v", what, e)
				}
				continue
			}
			if e.Type != "OrderSubmitted" || e.SchemaVersion != 3 || !jsonEqual(e.Data, want[i]) {
				t.Fatalf("%s: event %s upcast to %s v%d %s, want OrderSubmitted v3 %s", what, e.ID, e.Type, e.SchemaVersion, e.Data, want[i])
			}
		}
	}
	got, err := up.ReadStream(ctx, "up", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkUp("read stream", got)
	back, err := up.ReadStreamBackwards(ctx, "up", eventstore.End, 0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(back)
	checkUp("read backwards", back)
	all, err := up.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkUp("read all", all)
	sub, err := up.SubscribeAll(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkUp("subscribe all", receive(t, sub, len(old)))
	ssub, err := up.SubscribeStream(ctx, "up", 1)
	if err != nil {
		t.Fatal(err)
	}
	checkUp("subscribe stream", receive(t, ssub, len(old)))

	// The stored bytes are untouched.
	raw, err := s.ReadStream(ctx, "up", 1, 1)
	if err != nil || raw[0].Type != "OrderPlaced" || raw[0].SchemaVersion != 1 || !jsonEqual(raw[0].Data, `{"amount":5}`) {
		t.Fatalf("stored event after upcast reads: %+v %v, want the original v1", raw, err)
	}

	// An event the upcaster cannot read fails the read and ends a
	// subscription with an *UpcastError naming it.
	if _, err := s.Append(ctx, "up", eventstore.Any, event.Envelope{ID: "bad", Type: "OrderPlaced", SchemaVersion: 1, Data: json.RawMessage(`"not an object"`)}); err != nil {
		t.Fatal(err)
	}
	var ue *eventstore.UpcastError
	if _, err := up.ReadStream(ctx, "up", 1, 0); !errors.As(err, &ue) || ue.EventID != "bad" {
		t.Fatalf("read with a broken old event: %v, want *UpcastError for bad", err)
	}
	bad, err := up.SubscribeAll(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	receive(t, bad, len(old))
	waitClosed(t, bad)
	if err := bad.Err(); !errors.As(err, &ue) || ue.EventID != "bad" {
		t.Fatalf("subscription Err after a broken old event: %v, want *UpcastError for bad", err)
	}
}

func jsonEqual(got json.RawMessage, want string) bool {
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
