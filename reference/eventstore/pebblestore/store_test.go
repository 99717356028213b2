package pebblestore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/eventstoretest"
	"github.com/edkit-dev/edkit/reference/eventstore/pebblestore"
)

func open(tb testing.TB, dir string, opts ...pebblestore.Option) *pebblestore.Store {
	tb.Helper()
	s, err := pebblestore.Open(dir, opts...)
	if err != nil {
		tb.Fatalf("open %s: %v", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Run("pebblestore", func(t *testing.T) {
		eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
			t.Helper()
			return open(t, t.TempDir())
		})
	})
}

func testEvent(id string) event.Envelope {
	return event.Envelope{
		ID:            id,
		Type:          "Tested",
		Data:          json.RawMessage(fmt.Sprintf(`{"id":%q}`, id)),
		Metadata:      map[string]string{"k": id, "other": "x"},
		SchemaVersion: 3,
	}
}

// TestReopen closes a store and opens its directory again: every event is
// there byte for byte, heads and positions continue, and idempotent retries
// and ID uniqueness still hold across the restart.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	s := open(t, dir, pebblestore.WithNow(func() time.Time { return at }))
	first, err := s.Append(ctx, "a", eventstore.NoStream, testEvent("a1"), testEvent("a2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "b", eventstore.NoStream, testEvent("b1")); err != nil {
		t.Fatal(err)
	}
	nilBody := event.Envelope{ID: "a3"} // nil Data and Metadata stay nil
	if _, err := s.Append(ctx, "a", eventstore.Exact(2), nilBody); err != nil {
		t.Fatal(err)
	}
	before, err := s.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	t.Cleanup(func() { _ = s.Close() })
	after, err := s.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 4 || len(before) != 4 {
		t.Fatalf("before %d events, after reopen %d, want 4", len(before), len(after))
	}
	for i := range before {
		b, a := before[i], after[i]
		if fmt.Sprint(b) != fmt.Sprint(a) || !a.Time.Equal(at) {
			t.Errorf("position %d changed across reopen:\n before %+v\n after  %+v", i+1, b, a)
		}
	}
	if after[3].Data != nil || after[3].Metadata != nil || after[0].Data == nil || after[0].SchemaVersion != 3 {
		t.Errorf("nil/non-nil bodies not kept: %+v / %+v", after[3], after[0])
	}
	if s.Version("a") != 3 || s.Version("b") != 1 || s.LastPosition() != 4 {
		t.Fatalf("after reopen: version a=%d b=%d last=%d, want 3 1 4", s.Version("a"), s.Version("b"), s.LastPosition())
	}

	steps := []struct {
		name   string
		stream string
		exp    eventstore.ExpectedVersion
		ids    []string
		check  func(eventstore.AppendResult, error) error
	}{
		{"retry-of-first-append", "a", eventstore.NoStream, []string{"a1", "a2"}, func(r eventstore.AppendResult, err error) error {
			if err != nil || r != first {
				return fmt.Errorf("got %+v, %w; want the original %+v", r, err, first)
			}
			return nil
		}},
		{"id-in-other-stream", "b", eventstore.Any, []string{"a1"}, func(_ eventstore.AppendResult, err error) error {
			if !errors.Is(err, eventstore.ErrIdempotencyConflict) {
				return fmt.Errorf("err = %w, want ErrIdempotencyConflict", err)
			}
			return nil
		}},
		{"stale-expectation", "a", eventstore.Exact(2), []string{"a4"}, func(_ eventstore.AppendResult, err error) error {
			var ce *eventstore.ConcurrencyError
			if !errors.As(err, &ce) || ce.Actual != 3 {
				return fmt.Errorf("err = %w, want *ConcurrencyError with Actual 3", err)
			}
			return nil
		}},
		{"positions-continue", "a", eventstore.Exact(3), []string{"a4", "a5"}, func(r eventstore.AppendResult, err error) error {
			if err != nil || r != (eventstore.AppendResult{NextExpected: 5, Position: 6}) {
				return fmt.Errorf("got %+v, %w; want NextExpected 5 Position 6", r, err)
			}
			return nil
		}},
		{"new-stream", "c", eventstore.NoStream, []string{"c1"}, func(r eventstore.AppendResult, err error) error {
			if err != nil || r != (eventstore.AppendResult{NextExpected: 1, Position: 7}) {
				return fmt.Errorf("got %+v, %w; want NextExpected 1 Position 7", r, err)
			}
			return nil
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			evs := make([]event.Envelope, len(st.ids))
			for i, id := range st.ids {
				evs[i] = testEvent(id)
			}
			if err := st.check(s.Append(ctx, st.stream, st.exp, evs...)); err != nil {
				t.Fatal(err)
			}
		})
	}
	sub, err := s.SubscribeAll(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 7; want++ {
		select {
		case e := <-sub.C:
			if e.Position != want {
				t.Fatalf("subscription after reopen: position %d, want %d", e.Position, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("subscription after reopen: position %d did not arrive", want)
		}
	}
}

// TestConcurrentSameID has writers race to append the same event IDs to
// their own streams: each ID must land exactly once, whatever the timing of
// the unlocked ID lookup against commits by other writers.
func TestConcurrentSameID(t *testing.T) {
	s := open(t, t.TempDir())
	t.Cleanup(func() { _ = s.Close() })
	const writers, ids = 8, 200
	wins := make([][]bool, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wins[w] = make([]bool, ids)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < ids; i++ {
				_, err := s.Append(context.Background(), fmt.Sprintf("s%d", w), eventstore.Any, testEvent(fmt.Sprintf("dup-%d", i)))
				switch {
				case err == nil:
					wins[w][i] = true
				case !errors.Is(err, eventstore.ErrIdempotencyConflict):
					t.Errorf("writer %d id %d: %v", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < ids; i++ {
		n := 0
		for w := 0; w < writers; w++ {
			if wins[w][i] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("dup-%d: %d writers succeeded, want exactly 1", i, n)
		}
	}
	all, err := s.ReadAll(context.Background(), 1, 0)
	if err != nil || len(all) != ids {
		t.Fatalf("log holds %d events (%v), want %d", len(all), err, ids)
	}
}

// TestReopenMetadataAndSnapshots checks that stream metadata, a soft delete
// and snapshots are as durable as events: after a reopen the same reads
// hide the same events and the same snapshot loads.
func TestReopenMetadataAndSnapshots(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	s := open(t, dir, pebblestore.WithNow(func() time.Time { return at }))
	for _, stream := range []string{"kept", "gone"} {
		if _, err := s.Append(ctx, stream, eventstore.NoStream, testEvent(stream+"1"), testEvent(stream+"2"), testEvent(stream+"3")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetStreamMetadata(ctx, "kept", eventstore.StreamMetadata{MaxCount: 2}); err != nil {
		t.Fatal(err)
	}
	snap := eventstore.Snapshot{Stream: "kept", Version: 3, Type: "State", SchemaVersion: 2, Data: json.RawMessage(`{"n":3}`)}
	if err := s.SaveSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStream(ctx, "gone", eventstore.Exact(3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	defer func() { _ = s.Close() }()
	got, err := s.ReadStream(ctx, "kept", 1, 0)
	if err != nil || len(got) != 2 || got[0].ID != "kept2" {
		t.Fatalf("after reopen, max count 2: %v %v, want kept2, kept3", got, err)
	}
	loaded, err := s.LoadSnapshot(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	snap.Time = at
	if loaded.Version != 3 || loaded.Type != "State" || loaded.SchemaVersion != 2 || string(loaded.Data) != `{"n":3}` || !loaded.Time.Equal(at) {
		t.Fatalf("after reopen, snapshot %+v, want %+v", loaded, snap)
	}
	if _, err := s.ReadStream(ctx, "gone", 1, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("after reopen, deleted stream reads %v, want ErrStreamNotFound", err)
	}
	res, err := s.Append(ctx, "gone", eventstore.NoStream, testEvent("gone4"))
	if err != nil || res.NextExpected != 4 {
		t.Fatalf("recreate after reopen: %+v %v, want version 4", res, err)
	}
}

// FuzzDecodeSnapshot feeds arbitrary bytes to the snapshot decoder: it must
// return a snapshot or ErrCorrupt, never panic.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Add(append(make([]byte, 16), 2, 5, 'S', 't', 'a', 't', 'e', '{', '}'))
	f.Fuzz(func(t *testing.T, b []byte) {
		snap, err := pebblestore.DecodeSnapshot("s", b)
		if err != nil && !errors.Is(err, pebblestore.ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if err == nil && snap.Stream != "s" {
			t.Fatalf("decoded stream %q", snap.Stream)
		}
	})
}
