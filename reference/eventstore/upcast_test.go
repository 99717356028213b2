package eventstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

func bump(to int) func(event.Envelope) (event.Envelope, error) {
	return func(e event.Envelope) (event.Envelope, error) {
		e.SchemaVersion = to
		return e, nil
	}
}

func TestNewUpcastersRejects(t *testing.T) {
	cases := []struct {
		name string
		ups  []eventstore.Upcaster
		want string
	}{
		{"no type", []eventstore.Upcaster{{From: 1, Up: bump(2)}}, "has no type"},
		{"no function", []eventstore.Upcaster{{Type: "A", From: 1}}, "has no function"},
		{"version 0", []eventstore.Upcaster{{Type: "A", From: 0, Up: bump(2)}}, "want >= 1"},
		{"duplicate", []eventstore.Upcaster{{Type: "A", From: 1, Up: bump(2)}, {Type: "A", From: 1, Up: bump(3)}}, "two upcasters for A v1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := eventstore.NewUpcasters(c.ups...); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewUpcasters: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestUpcastChain(t *testing.T) {
	u, err := eventstore.NewUpcasters(
		eventstore.Upcaster{Type: "A", From: 1, Up: bump(2)},
		eventstore.Upcaster{Type: "A", From: 2, Up: func(e event.Envelope) (event.Envelope, error) {
			e.Type, e.SchemaVersion = "B", 1
			e.ID, e.Version = "rewritten", 99 // identity is restored by Upcast
			return e, nil
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	got, err := u.Upcast(event.Envelope{ID: "e", Type: "A", Version: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != "B" || got.SchemaVersion != 1 || got.ID != "e" || got.Version != 4 {
		t.Fatalf("upcast: %+v, want B v1 with identity e@4", got)
	}
	if same, _ := u.Upcast(event.Envelope{ID: "x", Type: "C", SchemaVersion: 7}); same.Type != "C" || same.SchemaVersion != 7 {
		t.Fatalf("an event with no upcaster changed: %+v", same)
	}
}

func TestUpcastFailures(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name string
		ups  []eventstore.Upcaster
		want string
	}{
		{"error", []eventstore.Upcaster{{Type: "A", From: 1, Up: func(e event.Envelope) (event.Envelope, error) { return e, boom }}}, "boom"},
		{"no progress", []eventstore.Upcaster{{Type: "A", From: 1, Up: bump(1)}}, "does not move forward"},
		{"loop", []eventstore.Upcaster{
			{Type: "A", From: 1, Up: func(e event.Envelope) (event.Envelope, error) { e.Type = "B"; return e, nil }},
			{Type: "B", From: 1, Up: func(e event.Envelope) (event.Envelope, error) { e.Type = "A"; return e, nil }},
		}, "loops"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := eventstore.NewUpcasters(c.ups...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = u.Upcast(event.Envelope{ID: "e", Type: "A", SchemaVersion: 1})
			var ue *eventstore.UpcastError
			if !errors.As(err, &ue) || ue.EventID != "e" || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Upcast: %v, want *UpcastError for e containing %q", err, c.want)
			}
		})
	}
}
