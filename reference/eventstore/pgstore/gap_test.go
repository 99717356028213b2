package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/pgstore"
)

// gapReport is what gapWorkload observed.
type gapReport struct {
	violations []string
	received   int // events the subscriber got
	total      int // events appended
}

func (r *gapReport) violate(format string, a ...any) {
	if len(r.violations) < 20 {
		r.violations = append(r.violations, fmt.Sprintf(format, a...))
	}
}

// gapWorkload runs concurrent writers while a subscriber, a cursor reader
// (ReadAll from the last position it returned, the way a projection
// polls) and a full reader (ReadAll from 1) run, and reports every time a
// reader saw positions that are not exactly the next ones in order. A store
// whose positions commit out of order shows up as a cursor reader or
// subscriber that jumps over a position which appears later.
func gapWorkload(t *testing.T, s *pgstore.Store, writers, each int) *gapReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep := &gapReport{}
	var mu sync.Mutex
	violate := func(format string, a ...any) {
		mu.Lock()
		rep.violate(format, a...)
		mu.Unlock()
	}

	sub, err := s.SubscribeAll(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan int, 1) // the total, once every writer is done
	var readers sync.WaitGroup
	readers.Add(3)
	go func() { // subscriber
		defer readers.Done()
		next, total := uint64(1), -1
		for total < 0 || int(next) <= total {
			select {
			case e, ok := <-sub.C:
				if !ok {
					violate("subscription closed at %d: %v", next, sub.Err())
					return
				}
				if e.Position != next {
					violate("subscriber: got position %d, want %d", e.Position, next)
				}
				next = e.Position + 1
				mu.Lock()
				rep.received++
				mu.Unlock()
			case n := <-written:
				total = n
				written <- n
			case <-ctx.Done():
				violate("subscriber: stopped at %d of %d: %v", next, total, ctx.Err())
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { // cursor reader
		defer readers.Done()
		cursor := uint64(1)
		for {
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			batch, err := s.ReadAll(ctx, cursor, 7)
			if err != nil {
				violate("cursor reader: %v", err)
				return
			}
			for _, e := range batch {
				if e.Position != cursor {
					violate("cursor reader: read from %d got position %d", cursor, e.Position)
				}
				cursor = e.Position + 1
			}
			if finished && len(batch) == 0 {
				return
			}
		}
	}()
	go func() { // full reader
		defer readers.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			all, err := s.ReadAll(ctx, 1, 0)
			if err != nil {
				violate("full reader: %v", err)
				return
			}
			for i, e := range all {
				if e.Position != uint64(i)+1 {
					violate("full reader: index %d holds position %d (a hole below it)", i, e.Position)
					break
				}
			}
		}
	}()

	var wg sync.WaitGroup
	var total int
	for w := 0; w < writers; w++ {
		wg.Add(1)
		size := 1 + w%2
		total += each * size
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				batch := make([]event.Envelope, size)
				for j := range batch {
					batch[j] = event.Envelope{ID: fmt.Sprintf("w%d-%d-%d", w, i, j), Type: "Gap", Data: []byte(`{}`)}
				}
				if _, err := s.Append(ctx, fmt.Sprintf("gap-%d", w), eventstore.Any, batch...); err != nil {
					violate("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	written <- total
	rep.total = total
	readers.Wait()
	cancel()
	return rep
}

func TestGapFreeUnderConcurrentWriters(t *testing.T) {
	s := newStore(t)
	rep := gapWorkload(t, s, 8, 40)
	for _, v := range rep.violations {
		t.Error(v)
	}
	if rep.received != rep.total {
		t.Errorf("subscriber received %d of %d events", rep.received, rep.total)
	}
	all, err := s.ReadAll(context.Background(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != rep.total {
		t.Fatalf("log holds %d events, want %d", len(all), rep.total)
	}
	for i, e := range all {
		if e.Position != uint64(i)+1 {
			t.Fatalf("final log: index %d holds position %d", i, e.Position)
		}
	}
}

// TestGapTestCatchesUnguardedSequence proves gapWorkload can fail: with the
// gap guard removed (positions from a sequence, committed in any order) it
// must report a reader that skipped a position.
func TestGapTestCatchesUnguardedSequence(t *testing.T) {
	for round := 1; round <= 5; round++ {
		s := newStore(t, pgstore.WithoutGapGuard())
		rep := gapWorkload(t, s, 8, 40)
		if len(rep.violations) > 0 {
			t.Logf("round %d: caught %d violations, e.g. %s", round, len(rep.violations), rep.violations[0])
			return
		}
	}
	t.Fatal("the gap workload passed 5 rounds against a store without the gap guard: it cannot catch the gap problem")
}
