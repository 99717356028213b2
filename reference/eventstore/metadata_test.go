package eventstore_test

import (
	"errors"
	"testing"

	"github.com/edkit-dev/edkit/reference/eventstore"
)

func TestFirstVisible(t *testing.T) {
	cases := []struct {
		md   eventstore.StreamMetadata
		last uint64
		want uint64
	}{
		{eventstore.StreamMetadata{}, 5, 1},
		{eventstore.StreamMetadata{MaxCount: 2}, 5, 4},
		{eventstore.StreamMetadata{MaxCount: 9}, 5, 1},
		{eventstore.StreamMetadata{MaxCount: 5}, 5, 1},
		{eventstore.StreamMetadata{TruncateBefore: 3}, 5, 3},
		{eventstore.StreamMetadata{TruncateBefore: 3, MaxCount: 1}, 5, 5},
		{eventstore.StreamMetadata{TruncateBefore: 5, MaxCount: 3}, 5, 5},
		{eventstore.StreamMetadata{TruncateBefore: 6}, 5, 6},
		{eventstore.StreamMetadata{MaxCount: 2}, 0, 1},
	}
	for _, c := range cases {
		if got := c.md.FirstVisible(c.last); got != c.want {
			t.Errorf("%+v.FirstVisible(%d) = %d, want %d", c.md, c.last, got, c.want)
		}
	}
}

func TestStreamStateCheck(t *testing.T) {
	deleted := eventstore.StreamState{Last: 3, Metadata: eventstore.StreamMetadata{TruncateBefore: 4}}
	live := eventstore.StreamState{Last: 3}
	missing := eventstore.StreamState{}
	cases := []struct {
		name string
		st   eventstore.StreamState
		exp  eventstore.ExpectedVersion
		ok   bool
	}{
		{"missing/any", missing, eventstore.Any, true},
		{"missing/no-stream", missing, eventstore.NoStream, true},
		{"missing/exact-0", missing, eventstore.Exact(0), true},
		{"missing/exists", missing, eventstore.StreamExists, false},
		{"live/no-stream", live, eventstore.NoStream, false},
		{"live/exists", live, eventstore.StreamExists, true},
		{"live/exact-3", live, eventstore.Exact(3), true},
		{"live/exact-2", live, eventstore.Exact(2), false},
		{"deleted/no-stream", deleted, eventstore.NoStream, true},
		{"deleted/exact-0", deleted, eventstore.Exact(0), true},
		{"deleted/exists", deleted, eventstore.StreamExists, false},
		{"deleted/exact-last", deleted, eventstore.Exact(3), true},
		{"deleted/any", deleted, eventstore.Any, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.st.Check("s", c.exp)
			if c.ok && err != nil {
				t.Fatalf("Check: %v, want nil", err)
			}
			var ce *eventstore.ConcurrencyError
			if !c.ok && (!errors.As(err, &ce) || ce.Actual != c.st.Last) {
				t.Fatalf("Check: %v, want *ConcurrencyError with actual %d", err, c.st.Last)
			}
		})
	}
}
