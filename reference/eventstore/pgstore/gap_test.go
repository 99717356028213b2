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
	// filtered are the violations of the filtered subscriber alone: events
	// it should have got and did not, or got out of order.
	filtered []string
}

// gapFilter is the filtered subscriber's filter: the odd writers' events,
// by both a stream prefix and a type, so both SQL clauses run.
var gapFilter = eventstore.Filter{StreamPrefixes: []string{"gap-"}, EventTypes: []string{"Odd"}}

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
// subscriber that jumps over a position which appears later. A filtered
// subscriber runs beside them and must get exactly the matching events of
// the final log: one that moved its cursor past an uncommitted position
// misses it.
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
	fsub, err := s.SubscribeAll(ctx, 1, eventstore.WithFilter(gapFilter))
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan int, 1) // the total, once every writer is done
	var readers sync.WaitGroup
	readers.Add(4)
	var fgot []event.Envelope
	go func() { // filtered subscriber, until the sentinel appended last
		defer readers.Done()
		for {
			select {
			case e, ok := <-fsub.C:
				if !ok {
					violate("filtered subscription closed: %v", fsub.Err())
					return
				}
				fgot = append(fgot, e)
				if e.ID == gapSentinel {
					return
				}
			case <-ctx.Done():
				violate("filtered subscriber: stopped after %d events: %v", len(fgot), ctx.Err())
				return
			}
		}
	}()
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
				typ := "Even"
				if w%2 == 1 {
					typ = "Odd"
				}
				for j := range batch {
					batch[j] = event.Envelope{ID: fmt.Sprintf("w%d-%d-%d", w, i, j), Type: typ, Data: []byte(`{}`)}
				}
				if _, err := s.Append(ctx, fmt.Sprintf("gap-%d", w), eventstore.Any, batch...); err != nil {
					violate("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Appended after every writer returned, the sentinel commits last, so
	// the filtered subscriber has been sent everything once it gets it.
	if _, err := s.Append(ctx, "gap-end", eventstore.Any, event.Envelope{ID: gapSentinel, Type: "Odd", Data: []byte(`{}`)}); err != nil {
		violate("sentinel: %v", err)
	}
	total++
	close(done)
	written <- total
	rep.total = total
	readers.Wait()
	rep.filtered = checkFiltered(t, s, fgot)
	for _, v := range rep.filtered {
		rep.violate("%s", v)
	}
	cancel()
	return rep
}

const gapSentinel = "sentinel"

// checkFiltered compares what the filtered subscriber got with the
// matching events of the final log, and describes every difference.
func checkFiltered(t *testing.T, s *pgstore.Store, got []event.Envelope) []string {
	t.Helper()
	all, err := s.ReadAll(context.Background(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for _, e := range all {
		if gapFilter.Match(e) {
			want = append(want, e.Position)
		}
	}
	var out []string
	i := 0
	for _, e := range got {
		if !gapFilter.Match(e) {
			out = append(out, fmt.Sprintf("filtered subscriber: got %s at %d, which the filter rejects", e.ID, e.Position))
			continue
		}
		for i < len(want) && want[i] < e.Position {
			out = append(out, fmt.Sprintf("filtered subscriber: skipped position %d (got %d next)", want[i], e.Position))
			i++
		}
		if i < len(want) && want[i] == e.Position {
			i++
			continue
		}
		out = append(out, fmt.Sprintf("filtered subscriber: got position %d out of order", e.Position))
	}
	for ; i < len(want); i++ {
		out = append(out, fmt.Sprintf("filtered subscriber: never got position %d", want[i]))
	}
	return out
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
// must report a reader that skipped a position, and the filtered
// subscriber, whose safe head is then only the newest stored position,
// must be caught skipping too.
func TestGapTestCatchesUnguardedSequence(t *testing.T) {
	var caught, filtered bool
	for round := 1; round <= 10 && (!caught || !filtered); round++ {
		s := newStore(t, pgstore.WithoutGapGuard())
		rep := gapWorkload(t, s, 8, 40)
		if !caught && len(rep.violations) > 0 {
			caught = true
			t.Logf("round %d: caught %d violations, e.g. %s", round, len(rep.violations), rep.violations[0])
		}
		if !filtered && len(rep.filtered) > 0 {
			filtered = true
			t.Logf("round %d: caught the filtered subscriber: %s", round, rep.filtered[0])
		}
	}
	if !caught {
		t.Fatal("the gap workload passed 10 rounds against a store without the gap guard: it cannot catch the gap problem")
	}
	if !filtered {
		t.Fatal("the filtered subscriber passed 10 rounds against a store without the gap guard: its check cannot catch a skip")
	}
}
