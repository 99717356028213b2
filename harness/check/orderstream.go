package check

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/edkit-dev/edkit/harness/history"
)

// orderWindow bounds how many delivered seqs a streamed order judgement
// remembers per (group, key) above the stream's watermark.
const orderWindow = 4096

// seqSet is the seqs one stream has delivered: every seq up to low, and
// the seqs in above. Deliveries come nearly in seq order, so low follows
// them and above stays small; it is what lets a hot key's judgement hold a
// few numbers instead of one entry per message.
type seqSet struct {
	low   int64
	above map[int64]struct{}
}

// add records seq and reports whether it is the seq's first delivery, and
// how many undelivered seqs the window passed over to stay bounded.
func (s *seqSet) add(seq int64) (first bool, forgotten int64) {
	if seq <= s.low {
		return false, 0
	}
	if _, ok := s.above[seq]; ok {
		return false, 0
	}
	if s.above == nil {
		s.above = make(map[int64]struct{})
	}
	s.above[seq] = struct{}{}
	s.drain()
	if len(s.above) > orderWindow {
		forgotten = s.shrink()
	}
	return true, forgotten
}

// drain moves low up over the seqs delivered contiguously above it.
func (s *seqSet) drain() {
	for {
		if _, ok := s.above[s.low+1]; !ok {
			return
		}
		delete(s.above, s.low+1)
		s.low++
	}
}

// shrink moves the watermark past the lower half of the window. The seqs
// it passes over were never delivered (a message lost, or a group that
// reads a sparse subset); should one come later, its first delivery reads
// as a redelivery and is not judged, which can hide an anomaly but never
// invent one. Sorting half the window each time it fills keeps the cost
// amortised to a logarithm per delivery.
func (s *seqSet) shrink() int64 {
	seqs := make([]int64, 0, len(s.above))
	for q := range s.above {
		seqs = append(seqs, q)
	}
	slices.Sort(seqs)
	cut := seqs[len(seqs)/2]
	var passed int64
	for _, q := range seqs {
		if q > cut {
			break
		}
		delete(s.above, q)
		passed++
	}
	forgotten := cut - s.low - passed
	s.low = cut
	s.drain()
	return forgotten
}

// streamedOrder is one (group, key) during a streamed judgement.
type streamedOrder struct {
	maxSeq int64
	maxAck history.Op // the ack of maxSeq
	seen   seqSet
}

type orderKey struct{ group, key string }

// orderLate is a listed anomaly waiting for its witnesses.
type orderLate struct{ del, ack history.Op }

// streamable reports whether c can judge a partition it cannot hold:
// per key, where each delivery and ack carries its own key and seq. Per
// producer, a message's producer may be named only by its publish, which
// would take a map entry per message to carry to its deliveries.
func (c *Order) streamable() bool {
	src := c.opts.PerProducer
	return src != ProducerFromProcess && src != ProducerFromStamp
}

// judgeStream judges a partition too large to hold (the ops of a hot key
// over a long run) by reading it twice: once to find the anomalies,
// holding per (group, key) the highest acked seq and a window of delivered
// seqs, and once more to gather the witnesses of those listed. It judges
// as Check does, with two differences a recorder's history does not show:
// a delivery is judged by the Key and Seq it carries itself (harness/record
// stamps both on every op), and a first delivery is recognised by its seq,
// so a second message with a seq its stream already delivered reads as a
// redelivery.
func (c *Order) judgeStream(open func() (*history.FileReader, error)) (part, error) {
	r, err := open()
	if err != nil {
		return part{}, err
	}
	col := newCollector(c.opts.MaxAnomalies)
	streams := make(map[orderKey]*streamedOrder)
	var late []orderLate
	var forgotten int64
	for r.Next() {
		op := r.Op()
		if op.Type != history.OK || op.MsgID == "" || op.Seq <= 0 || (op.F != history.Deliver && op.F != history.Ack) {
			continue
		}
		k := orderKey{op.Group, op.Key}
		st := streams[k]
		if st == nil {
			st = &streamedOrder{}
			streams[k] = st
		}
		if op.F == history.Ack {
			if op.Seq > st.maxSeq {
				st.maxSeq, st.maxAck = op.Seq, op
			}
			continue
		}
		first, lost := st.seen.add(op.Seq)
		forgotten += lost
		if !first || op.Seq >= st.maxSeq || !col.wants(op.Time) {
			continue
		}
		// Reuse the slot of the anomaly this one displaces, so that late
		// holds at most MaxAnomalies entries however many are found.
		tag := len(late)
		if len(col.list) == col.max {
			tag = col.tags[col.latest()]
			late[tag] = orderLate{op, st.maxAck}
		} else {
			late = append(late, orderLate{op, st.maxAck})
		}
		col.addTagged(Anomaly{Invariant: InvConsumerOrder, At: op.Time}, tag)
	}
	if err := errors.Join(r.Err(), r.Close()); err != nil {
		return part{}, err
	}
	if len(col.list) > 0 {
		if err := c.witnessLate(open, col, late); err != nil {
			return part{}, err
		}
	}
	res := col.result(InvConsumerOrder, len(streams), false, windowNote(forgotten))
	return part{Result: res, forgotten: forgotten}, nil
}

// lateWitness is what the second pass gathers about one message.
type lateWitness struct {
	pubOK, firstPub *history.Op
	firstDeliver    map[string]*history.Op // per group
}

// witnessLate reads the partition again for the publishes and first
// deliveries of the listed anomalies' messages, then labels and witnesses
// them as Order.report does.
func (c *Order) witnessLate(open func() (*history.FileReader, error), col *collector, late []orderLate) error {
	want := make(map[string]*lateWitness)
	for _, tag := range col.tags {
		want[late[tag].del.MsgID] = &lateWitness{firstDeliver: map[string]*history.Op{}}
		want[late[tag].ack.MsgID] = &lateWitness{firstDeliver: map[string]*history.Op{}}
	}
	r, err := open()
	if err != nil {
		return err
	}
	for r.Next() {
		op := r.Op()
		w := want[op.MsgID]
		if w == nil {
			continue
		}
		switch {
		case op.F == history.Publish:
			if w.firstPub == nil {
				w.firstPub = &op
			}
			if op.Type == history.OK && w.pubOK == nil {
				w.pubOK = &op
			}
		case op.F == history.Deliver && op.Type == history.OK && w.firstDeliver[op.Group] == nil:
			w.firstDeliver[op.Group] = &op
		}
	}
	if err := errors.Join(r.Err(), r.Close()); err != nil {
		return err
	}
	for i, tag := range col.tags {
		l := late[tag]
		n, m := want[l.del.MsgID], want[l.ack.MsgID]
		kind := "regression"
		if n.pubOK != nil && m.firstPub != nil && n.pubOK.Index < m.firstPub.Index {
			kind = "skip"
		}
		a := &col.list[i]
		a.Summary = fmt.Sprintf("%s: group %s got key %s seq %d (message %s) first after acking seq %d (message %s)",
			kind, l.del.Group, l.del.Key, l.del.Seq, l.del.MsgID, l.ack.Seq, l.ack.MsgID)
		a.Witness = witnessOps(n.pubOK, m.firstPub, m.firstDeliver[l.del.Group], &l.ack, &l.del)
	}
	return nil
}

// witnessOps sorts the given ops into history order, skipping nils and
// repeats, as index.witness does with positions.
func witnessOps(ops ...*history.Op) []history.Op {
	out := make([]history.Op, 0, len(ops))
	for _, op := range ops {
		if op != nil {
			out = append(out, *op)
		}
	}
	slices.SortFunc(out, func(a, b history.Op) int { return cmp.Compare(a.Index, b.Index) })
	return slices.CompactFunc(out, func(a, b history.Op) bool { return a.Index == b.Index })
}

func windowNote(forgotten int64) string {
	if forgotten == 0 {
		return ""
	}
	return fmt.Sprintf("%d seq(s) still undelivered when their stream's window of %d moved past them: not judged if delivered later", forgotten, orderWindow)
}
