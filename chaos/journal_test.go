package chaos_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/reference/bus"
)

// journalKept is how many entries the journal keeps: the first 1000 and
// the latest 1000.
const journalKept = 2000

// TestJournalIsBounded is the memory bound of a long run: 5,000 injections
// keep a journal of the first and the latest, and exact counts.
func TestJournalIsBounded(t *testing.T) {
	f := newFault(t, chaos.MessageFaultConfig{Duplicate: 1}, nil)
	const total = 5000
	feed(t.Context(), t, f, msgs(total, "k"))
	if n := f.Count(chaos.KindDuplicate); n != total {
		t.Fatalf("count %d, want %d", n, total)
	}
	j := f.Journal()
	if len(j) != journalKept {
		t.Fatalf("journal holds %d entries after %d injections, want %d", len(j), total, journalKept)
	}
	for i, e := range j {
		want := i // the head: m-0 … m-999
		if i >= journalKept/2 {
			want = total - journalKept + i // the tail: m-4000 … m-4999
		}
		if e.MsgID != fmt.Sprintf("m-%d", want) || e.Kind != chaos.KindDuplicate {
			t.Fatalf("journal[%d] = %+v, want m-%d", i, e, want)
		}
	}
	if d := f.JournalDropped(); d != total-journalKept {
		t.Fatalf("dropped %d, want %d", d, total-journalKept)
	}
}

// TestJournalKeepsAllWhileSmall: below the bound nothing is dropped, and
// the ring's first wrap keeps order.
func TestJournalKeepsAllWhileSmall(t *testing.T) {
	for _, total := range []int{0, 1, 999, 1000, 1001, 2000, 2001, 2999, 3000, 3001} {
		t.Run(fmt.Sprint(total), func(t *testing.T) {
			f := newFault(t, chaos.MessageFaultConfig{Duplicate: 1}, nil)
			feed(t.Context(), t, f, msgs(total, "k"))
			j := f.Journal()
			if len(j) != min(total, journalKept) || f.JournalDropped() != max(0, total-journalKept) {
				t.Fatalf("%d entries, %d dropped", len(j), f.JournalDropped())
			}
			for i := 1; i < len(j); i++ {
				var a, b int
				_, _ = fmt.Sscanf(j[i-1].MsgID, "m-%d", &a)
				_, _ = fmt.Sscanf(j[i].MsgID, "m-%d", &b)
				if b <= a || (i != journalKept/2 && b != a+1) {
					t.Fatalf("journal[%d] %s after %s", i, j[i].MsgID, j[i-1].MsgID)
				}
			}
		})
	}
}

// TestReorderEntriesUpdatedOrDropped holds 2,500 deliveries (one per key)
// at once, then releases each with its key's successor: entries the
// journal dropped meanwhile are skipped, the kept ones name the successor.
func TestReorderEntriesUpdatedOrDropped(t *testing.T) {
	f := newFault(t, chaos.MessageFaultConfig{Reorder: 1, MaxHold: time.Hour}, clock.NewVirtual(time.Unix(0, 0)))
	const keys = 2500
	var in []*bus.Message
	for round := range 2 {
		for k := range keys {
			in = append(in, &bus.Message{ID: fmt.Sprintf("m-%d-%d", k, round), Topic: "t", Key: fmt.Sprint(k)})
		}
	}
	s := feed(t.Context(), t, f, in)
	f.Wait()
	if n := len(s.ids()); n != 2*keys {
		t.Fatalf("handled %d of %d", n, 2*keys)
	}
	if n := f.Count(chaos.KindReorder); n != keys || f.Held() != 0 {
		t.Fatalf("count %d, held %d", n, f.Held())
	}
	j := f.Journal()
	if len(j) != journalKept {
		t.Fatalf("journal holds %d entries, want %d", len(j), journalKept)
	}
	for i, e := range j {
		k := i
		if i >= journalKept/2 {
			k = keys - journalKept + i
		}
		if e.MsgID != fmt.Sprintf("m-%d-0", k) || e.After != fmt.Sprintf("m-%d-1", k) {
			t.Fatalf("journal[%d] = %+v, want m-%d-0 released after m-%d-1", i, e, k, k)
		}
	}
}
