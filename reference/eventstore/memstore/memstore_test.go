package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/event"

	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/eventstoretest"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
)

func TestConformance(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		eventstoretest.Run(t, func(*testing.T) eventstore.Store { return memstore.New() })
	})
}

func TestWithNowAndHelpers(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := memstore.New(memstore.WithNow(func() time.Time { return at }))
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ctx := context.Background()
	if s.Version("a") != 0 || s.LastPosition() != 0 {
		t.Fatalf("empty store: version %d, last position %d", s.Version("a"), s.LastPosition())
	}
	if _, err := s.Append(ctx, "a", eventstore.NoStream, event.Envelope{ID: "1"}, event.Envelope{ID: "2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "b", eventstore.NoStream, event.Envelope{ID: "3"}); err != nil {
		t.Fatal(err)
	}
	if s.Version("a") != 2 || s.Version("b") != 1 || s.LastPosition() != 3 {
		t.Fatalf("version a=%d b=%d, last position %d; want 2, 1, 3", s.Version("a"), s.Version("b"), s.LastPosition())
	}
	got, err := s.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if !e.Time.Equal(at) {
			t.Fatalf("event %s time %v, want the injected %v", e.ID, e.Time, at)
		}
	}
}
