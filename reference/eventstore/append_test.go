package eventstore_test

import (
	"errors"
	"testing"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

func TestValidateAppend(t *testing.T) {
	ev := func(ids ...string) []event.Envelope {
		var out []event.Envelope
		for _, id := range ids {
			out = append(out, event.Envelope{ID: id, Type: "T"})
		}
		return out
	}
	tests := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		events   []event.Envelope
		ok       bool
	}{
		{"fine", "s", eventstore.Any, ev("a", "b"), true},
		{"empty stream", "", eventstore.Any, ev("a"), false},
		{"no events", "s", eventstore.Any, nil, false},
		{"unknown expectation", "s", -9, ev("a"), false},
		{"missing ID", "s", eventstore.NoStream, ev(""), false},
		{"ID twice", "s", eventstore.Exact(3), ev("a", "a"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := eventstore.ValidateAppend(tt.stream, tt.expected, tt.events)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, eventstore.ErrInvalidAppend)) {
				t.Fatalf("ValidateAppend = %v, want ok=%v (ErrInvalidAppend otherwise)", err, tt.ok)
			}
		})
	}
}

func TestCheckExpected(t *testing.T) {
	tests := []struct {
		expected eventstore.ExpectedVersion
		current  uint64
		ok       bool
	}{
		{eventstore.Any, 0, true}, {eventstore.Any, 7, true},
		{eventstore.NoStream, 0, true}, {eventstore.NoStream, 1, false},
		{eventstore.StreamExists, 1, true}, {eventstore.StreamExists, 0, false},
		{eventstore.Exact(0), 0, true}, {eventstore.Exact(2), 2, true}, {eventstore.Exact(2), 3, false},
	}
	for _, tt := range tests {
		err := eventstore.CheckExpected("s", tt.expected, tt.current)
		if tt.ok != (err == nil) {
			t.Errorf("CheckExpected(%s, %d) = %v, want ok=%v", tt.expected, tt.current, err, tt.ok)
			continue
		}
		var ce *eventstore.ConcurrencyError
		if err != nil && (!errors.As(err, &ce) || ce.Actual != tt.current || ce.Expected != tt.expected) {
			t.Errorf("CheckExpected(%s, %d) = %v, want a *ConcurrencyError carrying both", tt.expected, tt.current, err)
		}
	}
}
