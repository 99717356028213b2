package check

import (
	"fmt"

	"github.com/edkit-dev/edkit/harness/history"
)

// OrderOptions configures the Order checker.
type OrderOptions struct {
	// MaxAnomalies caps the anomalies listed (DefaultMaxAnomalies if zero).
	MaxAnomalies int
	// PerProducer judges order per (key, producer) instead of per key, for
	// systems where several producers publish to one key, each stamping its
	// own Seq (services or sessions appending events of one aggregate). The
	// zero value, SingleProducer, assumes one producer and one sequence per
	// key.
	PerProducer ProducerSource
}

// ProducerSource says where the Order checker finds a message's producer.
// A value other than the constants below judges per key, as SingleProducer.
type ProducerSource uint8

const (
	// SingleProducer keeps one sequence per key, whoever published: the
	// default.
	SingleProducer ProducerSource = iota
	// ProducerFromProcess takes the Process of the message's first publish
	// op: the producer session that invoked the publish. A message with no
	// publish op in the history, or one without a Process, is not judged.
	ProducerFromProcess
	// ProducerFromStamp takes the Producer the producer stamped on the
	// message (history.Op.Producer), from the first of the message's ops
	// that carries one. A message that carries none is not judged.
	ProducerFromStamp
)

// Order checks InvConsumerOrder: within one consumer group and one key,
// messages are consumed in the producer's sequence order. With
// OrderOptions.PerProducer set, "key" below reads "key and producer"
// throughout: each producer's sequence is judged on its own, and messages
// of other producers on the key neither raise nor break it.
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
// Ops whose message carries no Seq (0) or no MsgID are ignored, and so,
// per producer, are those whose message has no producer; the Result's Note
// counts such messages. The Seq and Key of a message are taken from the
// first of its ops that carries them. Checked counts the (group, key) or
// (group, key, producer) streams judged.
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
	group, producer int32 // producer is none for SingleProducer
	key             string
}

// unjudged marks, in producers.of, a message without a producer that has
// already been counted in producers.unjudged.
const unjudged = -2

// producers is each message's producer, for the per-producer modes.
type producers struct {
	of       []int32 // per message: index into names, none or unjudged
	names    []string
	unjudged int // consumed messages with a Seq but no producer
}

// producers interns each message's producer, or returns nil when order is
// judged per key alone, so that the default costs nothing.
func (c *Order) producers(ix *index) *producers {
	src := c.opts.PerProducer
	if src != ProducerFromProcess && src != ProducerFromStamp {
		return nil
	}
	pr := &producers{of: make([]int32, len(ix.msgs))}
	for m := range pr.of {
		pr.of[m] = none
	}
	ids := make(map[string]int32)
	last, lastID := "", int32(none)
	intern := func(name string) int32 {
		if name == last && lastID != none {
			return lastID
		}
		id, ok := ids[name]
		if !ok {
			id = int32(len(pr.names))
			ids[name] = id
			pr.names = append(pr.names, name)
		}
		last, lastID = name, id
		return id
	}
	if src == ProducerFromProcess {
		for m := range ix.msgs {
			if p := ix.msgs[m].firstPub; p != none && ix.ops[p].Process != "" {
				pr.of[m] = intern(ix.ops[p].Process)
			}
		}
		return pr
	}
	for i := range ix.ops {
		if m := ix.msg[i]; m != none && pr.of[m] == none && ix.ops[i].Producer != "" {
			pr.of[m] = intern(ix.ops[i].Producer)
		}
	}
	return pr
}

func (c *Order) checkIndex(ix *index) Result {
	r, _ := c.checkPart(ix)
	return r
}

// checkPart judges ix and also returns how many messages went unjudged for
// want of a producer, which RunStream sums over partitions.
func (c *Order) checkPart(ix *index) (Result, int) {
	col := newCollector(c.opts.MaxAnomalies)
	prod := c.producers(ix)
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
		producer := int32(none)
		if prod != nil {
			if producer = prod.of[pi.msg]; producer < 0 {
				if producer == none {
					prod.of[pi.msg] = unjudged
					prod.unjudged++
				}
				continue
			}
		}
		s := pairStream[p]
		if s == none {
			k := streamKey{pi.group, producer, ix.key(pi.msg)}
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
		c.report(ix, col, int32(i), pi, st, prod)
	}
	unjudged := 0
	if prod != nil {
		unjudged = prod.unjudged
	}
	return col.result(InvConsumerOrder, len(streams), false, unjudgedNote(unjudged)), unjudged
}

func unjudgedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d consumed message(s) with a seq but no producer not judged", n)
}

func (c *Order) report(ix *index, col *collector, pos int32, pi *pairInfo, st *stream, prod *producers) {
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
	summary := fmt.Sprintf("%s: group %s got key %s seq %d (message %s) first after acking seq %d (message %s)",
		kind, del.Group, ix.key(pi.msg), n.seq, del.MsgID, m.seq, ack.MsgID)
	if prod != nil {
		summary += ", both from producer " + prod.names[prod.of[pi.msg]]
	}
	col.add(Anomaly{
		Invariant: InvConsumerOrder,
		Summary:   summary,
		Witness:   ix.witness(n.pubOK, m.firstPub, int32(mDeliver), st.maxAck, pos),
		At:        del.Time,
	})
}
