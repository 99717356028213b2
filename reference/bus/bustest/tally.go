package bustest

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/edkit-dev/edkit/reference/bus"
)

// tally counts what consumers of one group saw against what was published.
// Order is judged on processing (done), not on delivery: a redelivery of a
// message that was never finished does not count, and a message finished
// after a later one of its key does. Consumers call add on each delivery,
// done before settling, and ack once the broker confirmed the ack.
type tally struct {
	mu        sync.Mutex
	want      map[string]bool
	seen      map[string]int
	processed map[string]bool
	acked     map[string]bool // acked, or dropped on purpose
	maxSeq    map[string]int
	delivered int
	dups      int
	reordered int
	phantoms  int
}

func newTally(published []*bus.Message) *tally {
	tl := &tally{want: map[string]bool{}, seen: map[string]int{}, processed: map[string]bool{},
		acked: map[string]bool{}, maxSeq: map[string]int{}}
	for _, m := range published {
		tl.want[m.ID] = true
	}
	return tl
}

// add records a delivery and reports whether m is one of the messages the
// tally expects (false: a phantom, which the caller should still settle).
func (tl *tally) add(m *bus.Message) bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.delivered++
	if !tl.want[m.ID] {
		tl.phantoms++
		return false
	}
	tl.seen[m.ID]++
	if tl.acked[m.ID] {
		tl.dups++
	}
	return true
}

// done records that m was processed (its effect happened) and checks its
// place in its key's order. Only the first processing of an ID counts.
func (tl *tally) done(m *bus.Message) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if !tl.want[m.ID] || tl.processed[m.ID] {
		return
	}
	tl.processed[m.ID] = true
	seq, err := strconv.Atoi(m.Header(bus.HeaderSeq))
	if err != nil {
		return // no sequence, no order to keep
	}
	if seq < tl.maxSeq[m.Key] {
		tl.reordered++
		return
	}
	tl.maxSeq[m.Key] = seq
}

// ack records that the broker confirmed id as settled for good.
func (tl *tally) ack(id string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.want[id] {
		tl.acked[id] = true
	}
}

// distinct is how many expected messages are settled for good.
func (tl *tally) distinct() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.acked)
}

func (tl *tally) counts() Counts {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	c := Counts{Published: len(tl.want), Delivered: tl.delivered, Duplicated: tl.dups,
		Reordered: tl.reordered, Phantom: tl.phantoms}
	for id := range tl.want {
		if !tl.acked[id] {
			c.Lost++
		}
	}
	return c
}

// consumeUntil acks deliveries into tl until n expected messages are acked.
// A failed ack ends it with an error: with one subscriber there is nobody
// to revoke the delivery.
func consumeUntil(ctx context.Context, ch <-chan bus.Delivery, tl *tally, n int) error {
	for tl.distinct() < n {
		var d bus.Delivery
		select {
		case d = <-ch:
		case <-ctx.Done():
		}
		if d == nil {
			return fmt.Errorf("%d of %d messages acked before the wait ended", tl.distinct(), n)
		}
		m := d.Message()
		if tl.add(m) {
			tl.done(m)
		}
		if err := d.Ack(ctx); err != nil {
			return fmt.Errorf("ack %s: %w", m.ID, err)
		}
		tl.ack(m.ID)
	}
	return nil
}
