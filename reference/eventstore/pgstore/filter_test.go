package pgstore_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// TestFilterPrefixIsLiteral checks that LIKE's metacharacters in a stream
// prefix mean themselves: the filter runs in SQL, where "a_" or "a%" as a
// LIKE pattern would match far more than strings.HasPrefix does.
func TestFilterPrefixIsLiteral(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, stream := range []string{"a_b", "axb", "a%c", "abc", `a\d`, "ab"} {
		if _, err := s.Append(ctx, stream, eventstore.NoStream, event.Envelope{ID: stream, Type: "T"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, "end", eventstore.NoStream, event.Envelope{ID: "end", Type: "End"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"a_", []string{"a_b"}},
		{"a%", []string{"a%c"}},
		{`a\`, []string{`a\d`}},
		{"ab", []string{"abc", "ab"}},
		{"", []string{"a_b", "axb", "a%c", "abc", `a\d`, "ab"}},
	} {
		t.Run(c.prefix, func(t *testing.T) {
			// "end" passes by its own prefix and ends the read.
			sub, err := s.SubscribeAll(ctx, 1, eventstore.WithFilter(eventstore.Filter{StreamPrefixes: []string{c.prefix, "end"}}))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for e := range sub.C {
				if e.ID == "end" {
					break
				}
				got = append(got, e.ID)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("prefix %q: got %v, want %v (subscription: %v)", c.prefix, got, c.want, sub.Err())
			}
		})
	}
}

// TestMetadataFullRange checks that metadata beyond bigint's range reads
// back exactly and still applies: numeric(20,0) holds every uint64.
func TestMetadataFullRange(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, "m", eventstore.NoStream, event.Envelope{ID: "e1", Type: "T"}, event.Envelope{ID: "e2", Type: "T"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		md      eventstore.StreamMetadata
		visible int // -1: the stream reads as not found
	}{
		{eventstore.StreamMetadata{MaxCount: math.MaxUint64}, 2},
		{eventstore.StreamMetadata{MaxCount: 1, TruncateBefore: math.MaxUint64}, -1},
		{eventstore.StreamMetadata{MaxCount: math.MaxInt64 + 1, TruncateBefore: 2}, 1},
	} {
		if err := s.SetStreamMetadata(ctx, "m", c.md); err != nil {
			t.Fatal(err)
		}
		got, err := s.StreamMetadata(ctx, "m")
		if err != nil || got != c.md {
			t.Fatalf("metadata round trip: got %+v %v, want %+v", got, err, c.md)
		}
		for name, from := range map[string]uint64{"forwards": 1, "backwards": eventstore.End} {
			read := s.ReadStream
			if from == eventstore.End {
				read = s.ReadStreamBackwards
			}
			es, err := read(ctx, "m", from, 0)
			switch {
			case c.visible < 0 && !errors.Is(err, eventstore.ErrStreamNotFound):
				t.Fatalf("%+v: %s read: %d events, %v; want ErrStreamNotFound", c.md, name, len(es), err)
			case c.visible >= 0 && (err != nil || len(es) != c.visible):
				t.Fatalf("%+v: %s read: %d events, %v; want %d", c.md, name, len(es), err, c.visible)
			}
		}
	}
}
