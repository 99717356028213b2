package record

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// retainedIDs is how many message IDs l holds, live and early.
func (l *Ledger) retainedIDs() (live, early int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.live), len(l.early) + len(l.prev)
}

// TestLedgerForgetsSettledMessages is the memory bound of a long run:
// 100,000 messages settled by both groups, some settled before their
// publish-OK and some settled again after, leave nothing live and at most
// two generations of early settlements.
func TestLedgerForgetsSettledMessages(t *testing.T) {
	l := NewLedger()
	groups := map[string][]string{"t": {"a", "b"}}
	l.SetGroups(groups)
	const total = 100_000
	for i := range total {
		id := fmt.Sprintf("m-%d", i)
		if i%7 == 0 {
			l.settledBy("t", "a", id) // the consumer's ack overtook the publisher's
		}
		l.publishedOK("t", id)
		if i%11 == 0 {
			l.publishedOK("t", id) // published twice while in flight
		}
		if i%1000 == 0 { // the old ledger took O(run length) per call
			if n := l.Outstanding(groups); n != 2-btoi(i%7 == 0) {
				t.Fatalf("m-%d: outstanding %d after its publish", i, n)
			}
		}
		l.settledBy("t", "a", id)
		l.settledBy("t", "b", id)
		if i%3 == 0 {
			l.settledBy("t", "b", id) // a redelivery, after the message retired
		}
		l.settledBy("other", "a", id) // a topic nobody waits for
	}
	if n := l.Outstanding(groups); n != 0 {
		t.Fatalf("outstanding %d, want 0", n)
	}
	live, early := l.retainedIDs()
	t.Logf("after %d messages: %d live, %d early", total, live, early)
	if live != 0 || early > 2*earlyGeneration {
		t.Fatalf("retained %d live and %d early IDs, want 0 and at most %d", live, early, 2*earlyGeneration)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestLedgerJudgesEarlyPublishesWhenGroupsArrive: messages published and
// settled before the ledger knew the groups are judged against them, and
// only the owed ones stay.
func TestLedgerJudgesEarlyPublishesWhenGroupsArrive(t *testing.T) {
	l := NewLedger()
	l.publishedOK("t", "done")
	l.publishedOK("t", "half")
	l.publishedOK("t", "none")
	l.publishedOK("unwatched", "x")
	for _, g := range []string{"a", "b", "c"} { // c consumes t, but nobody waits for it
		l.settledBy("t", g, "done")
	}
	l.settledBy("t", "b", "half")
	l.settledBy("t", "a", "later") // before its publish, before the groups
	groups := map[string][]string{"t": {"a", "b"}}
	if n := l.Outstanding(groups); n != 3 {
		t.Fatalf("outstanding %d, want 3 (half: a; none: a, b)", n)
	}
	if live, _ := l.retainedIDs(); live != 2 {
		t.Fatalf("%d live, want 2", live)
	}
	l.publishedOK("t", "later")
	l.settledBy("t", "a", "half")
	l.settledBy("t", "a", "none")
	if n := l.Outstanding(groups); n != 2 {
		t.Fatalf("outstanding %d, want 2 (later: b; none: b)", n)
	}
	l.settledBy("t", "b", "none")
	l.settledBy("t", "b", "later")
	if n := l.Outstanding(groups); n != 0 {
		t.Fatalf("outstanding %d, want 0", n)
	}
	if live, _ := l.retainedIDs(); live != 0 {
		t.Fatalf("%d live, want 0", live)
	}
}

// TestLedgerMatchesFullHistory replays random interleavings — settlements
// before publishes, duplicates, repeated publishes, groups learnt midway —
// and compares Outstanding with a count over every ID ever seen, which is
// what the ledger used to keep.
func TestLedgerMatchesFullHistory(t *testing.T) {
	groups := map[string][]string{"t": {"a", "b"}, "u": {"a"}}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		l := NewLedger()
		published := map[string]map[string]bool{}
		settled := map[string]map[string]bool{}
		full := func() int {
			n := 0
			for topic, gs := range groups {
				for _, g := range gs {
					for id := range published[topic] {
						if !settled[topic+"/"+g][id] {
							n++
						}
					}
				}
			}
			return n
		}
		mark := func(m map[string]map[string]bool, k, id string) {
			if m[k] == nil {
				m[k] = map[string]bool{}
			}
			m[k][id] = true
		}
		retired := func(topic, id string) bool {
			for _, g := range groups[topic] {
				if !settled[topic+"/"+g][id] {
					return false
				}
			}
			return true
		}
		known := false
		for step := range 300 {
			topic := []string{"t", "u", "v"}[r.IntN(3)]
			id := fmt.Sprintf("m-%d", r.IntN(40))
			if r.IntN(3) == 0 {
				if published[topic][id] && known && retired(topic, id) {
					continue // a new obligation now, where the old ledger saw it settled
				}
				l.publishedOK(topic, id)
				mark(published, topic, id)
			} else {
				g := []string{"a", "b", "c"}[r.IntN(3)]
				l.settledBy(topic, g, id)
				mark(settled, topic+"/"+g, id)
			}
			if !known && step > 100 && r.IntN(50) == 0 {
				l.SetGroups(groups)
				known = true
			}
			if known {
				if got, want := l.Outstanding(groups), full(); got != want {
					t.Fatalf("seed %d step %d: outstanding %d, full history says %d", seed, step, got, want)
				}
			}
		}
		if got, want := l.Outstanding(groups), full(); got != want {
			t.Fatalf("seed %d: outstanding %d at the end, full history says %d", seed, got, want)
		}
	}
}

func TestLedgerWithoutGroups(t *testing.T) {
	l := NewLedger()
	l.publishedOK("t", "m")
	if n := l.Outstanding(nil); n != 0 {
		t.Fatalf("outstanding %d with no groups", n)
	}
	if n := l.Outstanding(map[string][]string{"t": {"g"}}); n != 1 {
		t.Fatalf("outstanding %d after an empty call, want 1: an empty call must not fix the groups", n)
	}
}
