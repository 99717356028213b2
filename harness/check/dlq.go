package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/edkit-dev/edkit/harness/history"
)

// DLQAccountingOptions configures the DLQAccounting checker.
type DLQAccountingOptions struct {
	// MaxAnomalies caps the anomalies listed (DefaultMaxAnomalies if zero).
	MaxAnomalies int
}

// DLQAccounting checks InvDLQAccounting, per consumer group, over the
// messages delivered to that group: each ends either processed (acked) or
// dead-lettered, never both and never neither (a message left unsettled at
// the end of the run is an anomaly), and every dead-letter op keeps its
// reason (Value) and its attempt count (Attempt >= 1). The Note states the
// balance per group, e.g. "group g: 100 = 97 processed + 3 dead-lettered".
type DLQAccounting struct {
	opts DLQAccountingOptions
}

var _ Checker = (*DLQAccounting)(nil)

// NewDLQAccounting returns a DLQAccounting checker.
func NewDLQAccounting(opts DLQAccountingOptions) *DLQAccounting {
	return &DLQAccounting{opts: opts}
}

// Name returns InvDLQAccounting.
func (c *DLQAccounting) Name() string { return InvDLQAccounting }

// Check judges ops.
func (c *DLQAccounting) Check(ops []history.Op) Result {
	return c.checkIndex(newIndex(ops))
}

type dlqTally struct {
	delivered, processed, dead, both, unsettled int
}

func (t dlqTally) plus(u dlqTally) dlqTally {
	return dlqTally{t.delivered + u.delivered, t.processed + u.processed, t.dead + u.dead,
		t.both + u.both, t.unsettled + u.unsettled}
}

func (c *DLQAccounting) checkIndex(ix *index) Result {
	r, _ := c.checkPart(ix)
	return r
}

// checkPart judges ix and also returns the balance per group, which
// RunStream sums over partitions.
func (c *DLQAccounting) checkPart(ix *index) (Result, map[string]dlqTally) {
	col := newCollector(c.opts.MaxAnomalies)
	tallies := make([]dlqTally, len(ix.groups))
	checked := 0
	for p := range ix.pairs {
		pi := &ix.pairs[p]
		if pi.firstDeliver == none {
			continue
		}
		checked++
		t := &tallies[pi.group]
		t.delivered++
		acked, dead := pi.firstAck != none, pi.firstDL != none
		switch {
		case acked && dead:
			t.both++
			c.flag(ix, col, "was both acked and dead-lettered", pi, pi.firstAck, pi.firstDL)
		case acked:
			t.processed++
		case dead:
			t.dead++
		default:
			t.unsettled++
			c.flag(ix, col, "was delivered but never acked or dead-lettered", pi, pi.lastDeliver)
		}
		if pi.badDL != none {
			op := ix.ops[pi.badDL]
			c.flag(ix, col, fmt.Sprintf("was dead-lettered without a reason or attempt count (reason %q, attempt %d)",
				op.Value, op.Attempt), pi, pi.badDL)
		}
	}
	byName := make(map[string]dlqTally, len(tallies))
	for g, t := range tallies {
		if t.delivered > 0 {
			byName[ix.groups[g]] = t
		}
	}
	return col.result(InvDLQAccounting, checked, false, dlqNote(byName)), byName
}

// dlqNote states the balance per group, e.g. "group g: 100 = 97 processed
// + 3 dead-lettered".
func dlqNote(tallies map[string]dlqTally) string {
	notes := make([]string, 0, len(tallies))
	for g, t := range tallies {
		n := fmt.Sprintf("group %s: %d = %d processed + %d dead-lettered", g, t.delivered, t.processed, t.dead)
		if t.both > 0 {
			n += fmt.Sprintf(" + %d both", t.both)
		}
		if t.unsettled > 0 {
			n += fmt.Sprintf(" + %d unsettled", t.unsettled)
		}
		notes = append(notes, n)
	}
	sort.Strings(notes)
	return strings.Join(notes, "; ")
}

// flag reports an anomaly of pair pi witnessed by the ops at pos; it is
// completed by the latest of them.
func (c *DLQAccounting) flag(ix *index, col *collector, what string, pi *pairInfo, pos ...int32) {
	at := ix.ops[pos[0]].Time
	for _, p := range pos[1:] {
		if t := ix.ops[p].Time; t > at {
			at = t
		}
	}
	if !col.wants(at) {
		return
	}
	col.add(Anomaly{
		Invariant: InvDLQAccounting,
		Summary:   fmt.Sprintf("message %s in group %s %s", ix.pairMsgID(pi), ix.groups[pi.group], what),
		Witness:   ix.witness(pos...),
		At:        at,
	})
}
