package eventstoretest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// waitLimit bounds every wait in the suite, so a broken backend fails
// instead of hanging.
const waitLimit = 10 * time.Second

// ev builds a small test event with the given ID.
func ev(id string) event.Envelope {
	return event.Envelope{
		ID:            id,
		Type:          "Tested",
		Data:          json.RawMessage(fmt.Sprintf(`{"id":%q}`, id)),
		Metadata:      map[string]string{"k": id},
		SchemaVersion: 1,
	}
}

// evs builds test events for ids.
func evs(ids ...string) []event.Envelope {
	out := make([]event.Envelope, len(ids))
	for i, id := range ids {
		out[i] = ev(id)
	}
	return out
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedVersion, ids ...string) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), stream, exp, evs(ids...)...)
	if err != nil {
		t.Fatalf("append %s %v %v: %v", stream, exp, ids, err)
	}
	return res
}

func readAll(t *testing.T, s eventstore.Store) []event.Envelope {
	t.Helper()
	all, err := s.ReadAll(context.Background(), 1, 0)
	if err != nil {
		t.Fatalf("read all: %v", err)
	}
	return all
}

func ids(es []event.Envelope) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// receive takes n events from sub, failing the test if they do not arrive
// within waitLimit or the channel closes first.
func receive(t *testing.T, sub *eventstore.Subscription, n int) []event.Envelope {
	t.Helper()
	out := make([]event.Envelope, 0, n)
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for len(out) < n {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed after %d of %d events: %v", len(out), n, sub.Err())
			}
			out = append(out, e)
		case <-deadline.C:
			t.Fatalf("received %d of %d events within %v", len(out), n, waitLimit)
		}
	}
	return out
}

// waitClosed drains sub until its channel closes, failing after waitLimit.
func waitClosed(t *testing.T, sub *eventstore.Subscription) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		select {
		case _, ok := <-sub.C:
			if !ok {
				return
			}
		case <-deadline.C:
			t.Fatalf("subscription did not close within %v", waitLimit)
		}
	}
}

// checkPositions asserts es are exactly positions from, from+1, ... in order.
func checkPositions(t *testing.T, es []event.Envelope, from uint64) {
	t.Helper()
	for i, e := range es {
		if want := from + uint64(i); e.Position != want {
			t.Fatalf("event %d (%s): position %d, want %d", i, e.ID, e.Position, want)
		}
	}
}
