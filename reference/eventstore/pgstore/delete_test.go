package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/pgstore"
)

// deleteRace races, on rounds fresh streams, a DeleteStream(Any) against
// an Append(StreamExists) and returns a description of every round whose
// outcome no serial order explains. When both succeed, the append must
// have run first (after the delete the stream does not exist, so
// StreamExists fails), so the delete must hide the appended event too: a
// read that still finds the stream means the delete computed its
// truncate-before from a version the append had already moved past.
func deleteRace(t *testing.T, s *pgstore.Store, rounds int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var anomalies []string
	for r := 0; r < rounds; r++ {
		stream := fmt.Sprintf("del-%d", r)
		if _, err := s.Append(ctx, stream, eventstore.NoStream, event.Envelope{ID: stream + "-1", Type: "T"}); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var appendErr, deleteErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, appendErr = s.Append(ctx, stream, eventstore.StreamExists, event.Envelope{ID: stream + "-2", Type: "T"})
		}()
		go func() {
			defer wg.Done()
			<-start
			deleteErr = s.DeleteStream(ctx, stream, eventstore.Any)
		}()
		close(start)
		wg.Wait()
		var ce *eventstore.ConcurrencyError
		if appendErr != nil && !errors.As(appendErr, &ce) {
			t.Fatalf("round %d: append: %v", r, appendErr)
		}
		if deleteErr != nil {
			t.Fatalf("round %d: delete: %v", r, deleteErr)
		}
		got, err := s.ReadStream(ctx, stream, 1, 0)
		switch {
		case errors.Is(err, eventstore.ErrStreamNotFound):
		case err != nil:
			t.Fatalf("round %d: read: %v", r, err)
		default:
			anomalies = append(anomalies, fmt.Sprintf("round %d: append (err %v) and delete both succeeded, yet the stream reads %d events", r, appendErr, len(got)))
		}
	}
	return anomalies
}

func TestDeleteSerializesWithAppends(t *testing.T) {
	s := newStore(t)
	for _, a := range deleteRace(t, s, 100) {
		t.Error(a)
	}
}

// TestDeleteRaceCatchesMissingStreamLock proves deleteRace can fail: with
// the stream lock removed, a delete reads the version, an append commits,
// and the delete's truncate-before leaves the new event visible.
func TestDeleteRaceCatchesMissingStreamLock(t *testing.T) {
	for round := 1; round <= 5; round++ {
		s := newStore(t, pgstore.WithoutStreamLock())
		if got := deleteRace(t, s, 100); len(got) > 0 {
			t.Logf("round %d: caught %d anomalies, e.g. %s", round, len(got), got[0])
			return
		}
	}
	t.Fatal("500 delete/append races without the stream lock showed no anomaly: the test cannot catch the race")
}
