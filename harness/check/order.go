package check

import (
	"fmt"

	"github.com/edkit-dev/edkit/harness/history"
)

// OrderOptions configures the Order checker.
type OrderOptions struct {
	// MaxAnomalies caps the anomalies listed (DefaultMaxAnomalies if zero).
	MaxAnomalies int
}

// Order checks InvConsumerOrder: within one consumer group and one key,
// messages are consumed in the producer's sequence order.
//
// The rule, kept simple so that it never reports a false positive under
// at-least-once delivery: for group g and key k, let m be the highest Seq
// that g has acked so far. The FIRST delivery to g of a message of key k
// with Seq n < m is an anomaly. Redeliveries (a message already delivered
// to g before, e.g. after a nack or a consumer crash) are exempt: requeueing
// is how at-least-once works. Deliveries of messages already acked are the
// DuplicateDelivery checker's concern.
//
// The anomaly is labelled a skip when n's publish completed OK before m's
// first publish op was even invoked: the broker held n before m existed, yet
// g acked m before it ever saw n, so g skipped n and later received it out of
// order. Otherwise it is labelled a regression: the key's sequence went
// backwards for g (possibly because the publishes overlapped in time).
//
// Ops whose message carries no Seq (0) or no MsgID are ignored. The Seq and
// Key of a message are taken from the first of its ops that carries them.
type Order struct {
	opts OrderOptions
}

var _ Checker = (*Order)(nil)

// NewOrder returns an Order checker.
func NewOrder(opts OrderOptions) *Order { return &Order{opts: opts} }

// Name returns InvConsumerOrder.
func (c *Order) Name() string { return InvConsumerOrder }

// Check judges ops.
func (c *Order) Check(ops []history.Op) Result { return c.checkIndex(newIndex(ops)) }

// stream is the state of one (group, key) during the scan.
type stream struct {
	maxSeq int64 // highest Seq acked so far; 0 before any
	maxAck int32 // position of that ack
	maxMsg int32 // its message
}

type streamKey struct {
	group int32
	key   string
}

func (c *Order) checkIndex(ix *index) Result {
	col := newCollector(c.opts.MaxAnomalies)
	// pairStream maps a (message, group) pair to its stream, filled lazily
	// so that the key string is hashed once per pair, not once per op.
	pairStream := make([]int32, len(ix.pairs))
	for i := range pairStream {
		pairStream[i] = none
	}
	ids := make(map[streamKey]int32)
	var streams []stream
	for i := range ix.ops {
		p := ix.pair[i]
		if p == none {
			continue
		}
		f := ix.ops[i].F
		if f != history.Deliver && f != history.Ack {
			continue
		}
		pi := &ix.pairs[p]
		mi := &ix.msgs[pi.msg]
		seq := mi.seq
		if seq <= 0 {
			continue
		}
		s := pairStream[p]
		if s == none {
			k := streamKey{pi.group, ix.key(pi.msg)}
			id, ok := ids[k]
			if !ok {
				id = int32(len(streams))
				ids[k] = id
				streams = append(streams, stream{maxAck: none, maxMsg: none})
			}
			s = id
			pairStream[p] = s
		}
		st := &streams[s]
		if f == history.Ack {
			if seq > st.maxSeq {
				st.maxSeq, st.maxAck, st.maxMsg = seq, int32(i), pi.msg
			}
			continue
		}
		if pi.firstDeliver != int32(i) || seq >= st.maxSeq {
			continue
		}
		c.report(ix, col, int32(i), pi, st)
	}
	return col.result(InvConsumerOrder, len(streams), false, "")
}

func (c *Order) report(ix *index, col *collector, pos int32, pi *pairInfo, st *stream) {
	del := ix.ops[pos]
	if !col.wants(del.Time) {
		return
	}
	n, m := &ix.msgs[pi.msg], &ix.msgs[st.maxMsg]
	ack := ix.ops[st.maxAck]
	mDeliver := none
	if mp := ix.pairID(st.maxMsg, pi.group); mp != none {
		mDeliver = int(ix.pairs[mp].firstDeliver)
	}
	kind := "regression"
	if n.pubOK != none && m.firstPub != none && n.pubOK < m.firstPub {
		kind = "skip"
	}
	col.add(Anomaly{
		Invariant: InvConsumerOrder,
		Summary: fmt.Sprintf("%s: group %s got key %s seq %d (message %s) first after acking seq %d (message %s)",
			kind, del.Group, ix.key(pi.msg), n.seq, del.MsgID, m.seq, ack.MsgID),
		Witness: ix.witness(n.pubOK, m.firstPub, int32(mDeliver), st.maxAck, pos),
		At:      del.Time,
	})
}
