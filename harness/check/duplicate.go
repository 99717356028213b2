package check

import (
	"fmt"
	"sort"

	"github.com/edkit-dev/edkit/harness/history"
)

// DuplicateDeliveryOptions configures the DuplicateDelivery checker.
type DuplicateDeliveryOptions struct {
	// Permitted declares duplicates allowed by the backend's guarantee
	// profile (at-least-once brokers redeliver after lost acks): anomalies
	// are still listed, but the result stays Valid and is marked Permitted.
	Permitted bool
	// MaxAnomalies caps the anomalies listed (DefaultMaxAnomalies if zero).
	MaxAnomalies int
}

// DuplicateDelivery checks InvNoDupDelivery: once a group acked a message,
// the message is not delivered to that group again. Redelivery after a nack,
// or before any settlement, is at-least-once delivery working as designed
// and is not counted. One anomaly per (message, group), naming how many
// deliveries followed the ack.
type DuplicateDelivery struct {
	opts DuplicateDeliveryOptions
}

var _ Checker = (*DuplicateDelivery)(nil)

// NewDuplicateDelivery returns a DuplicateDelivery checker.
func NewDuplicateDelivery(opts DuplicateDeliveryOptions) *DuplicateDelivery {
	return &DuplicateDelivery{opts: opts}
}

// Name returns InvNoDupDelivery.
func (c *DuplicateDelivery) Name() string { return InvNoDupDelivery }

// Check judges ops.
func (c *DuplicateDelivery) Check(ops []history.Op) Result {
	return c.checkIndex(newIndex(ops))
}

func (c *DuplicateDelivery) checkIndex(ix *index) Result {
	col := newCollector(c.opts.MaxAnomalies)
	checked := 0
	for p := range ix.pairs {
		pi := &ix.pairs[p]
		if pi.firstDeliver == none {
			continue
		}
		checked++
		if pi.dups == 0 {
			continue
		}
		dup := ix.ops[pi.dupDeliver]
		if !col.wants(dup.Time) {
			continue
		}
		col.add(Anomaly{
			Invariant: InvNoDupDelivery,
			Summary: fmt.Sprintf("message %s was delivered to group %s %d more time(s) after it was acked",
				dup.MsgID, dup.Group, pi.dups),
			Witness: ix.witness(pi.firstDeliver, pi.firstAck, pi.dupDeliver),
			At:      dup.Time,
		})
	}
	return col.result(InvNoDupDelivery, checked, c.opts.Permitted, "")
}

// DuplicateEffectOptions configures the DuplicateEffect checker.
type DuplicateEffectOptions struct {
	// MaxAnomalies caps the anomalies listed (DefaultMaxAnomalies if zero).
	MaxAnomalies int
}

// DuplicateEffect checks InvNoDupEffect: a handler's side effect (an effect
// op: same Group, same Value naming the effect, same MsgID) happens at most
// once per message, however often the message is delivered. This is what
// an idempotent consumer (an inbox) promises even over at-least-once
// delivery, so duplicates are never permitted. An anomaly's At is the
// second run, where the invariant broke; its witness holds every run and the
// delivery before each.
type DuplicateEffect struct {
	opts DuplicateEffectOptions
}

var _ Checker = (*DuplicateEffect)(nil)

// NewDuplicateEffect returns a DuplicateEffect checker.
func NewDuplicateEffect(opts DuplicateEffectOptions) *DuplicateEffect {
	return &DuplicateEffect{opts: opts}
}

// Name returns InvNoDupEffect.
func (c *DuplicateEffect) Name() string { return InvNoDupEffect }

// Check judges ops.
func (c *DuplicateEffect) Check(ops []history.Op) Result {
	return c.checkIndex(newIndex(ops))
}

// effectKey is one (message, group) pair's effect.
type effectKey struct {
	pair, effect int32
}

// effectCount is how often an effect ran and when it first ran again.
type effectCount struct {
	n      int32
	second int32 // position of the second run, which completes the witness
}

func (c *effectCount) bump(pos int32) {
	c.n++
	if c.n == 2 {
		c.second = pos
	}
}

func (c *DuplicateEffect) checkIndex(ix *index) Result {
	col := newCollector(c.opts.MaxAnomalies)
	effectIDs := make(map[string]int32)
	lastName, lastID := "", int32(none)
	// Most pairs run at most one effect: count the first effect of each
	// pair in an array, and only further effects of a pair in a map.
	type slot struct {
		effect int32
		effectCount
	}
	first := make([]slot, len(ix.pairs))
	for i := range first {
		first[i].effect = none
	}
	counts := make(map[effectKey]effectCount)
	for i := range ix.ops {
		p := ix.pair[i]
		if p == none || ix.ops[i].F != history.Effect {
			continue
		}
		name := ix.ops[i].Value
		e := lastID
		if name != lastName || e == none {
			id, ok := effectIDs[name]
			if !ok {
				id = int32(len(effectIDs))
				effectIDs[name] = id
			}
			e, lastName, lastID = id, name, id
		}
		ec := &first[p].effectCount
		switch first[p].effect {
		case none:
			first[p].effect = e
		case e:
		default:
			c := counts[effectKey{p, e}]
			c.bump(int32(i))
			counts[effectKey{p, e}] = c
			continue
		}
		ec.bump(int32(i))
	}
	checked := len(counts)
	for p := range first {
		if first[p].effect != none {
			checked++
			if first[p].n >= 2 {
				counts[effectKey{int32(p), first[p].effect}] = first[p].effectCount
			}
		}
	}

	// Pick the anomalies to list (in history order, so that ties resolve
	// the same way every run), then gather their witnesses in one more
	// pass: every run of the effect plus the delivery that preceded it.
	var keys []effectKey
	for k, ec := range counts {
		if ec.n >= 2 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]].second < counts[keys[j]].second })
	for i, k := range keys {
		if at := ix.ops[counts[k].second].Time; col.wants(at) {
			col.addTagged(Anomaly{Invariant: InvNoDupEffect, At: at}, i)
		}
	}
	if len(col.list) == 0 {
		return col.result(InvNoDupEffect, checked, false, "")
	}
	col.anomalies()
	listed := make(map[effectKey]int, len(col.list))
	wit := make([][]int32, len(col.list))
	for slot, tag := range col.tags {
		listed[keys[tag]] = slot
	}
	lastDeliver := make(map[int32]int32)
	for k := range listed {
		lastDeliver[k.pair] = none
	}
	for i := range ix.ops {
		p := ix.pair[i]
		if p == none {
			continue
		}
		ld, ok := lastDeliver[p]
		if !ok {
			continue
		}
		switch ix.ops[i].F {
		case history.Deliver:
			lastDeliver[p] = int32(i)
		case history.Effect:
			slot, ok := listed[effectKey{p, effectIDs[ix.ops[i].Value]}]
			if !ok {
				continue
			}
			wit[slot] = append(wit[slot], ld, int32(i))
		}
	}
	for k, slot := range listed {
		a := &col.list[slot]
		a.Witness = ix.witness(wit[slot]...)
		first := a.Witness[0]
		for _, op := range a.Witness {
			if op.F == history.Effect {
				first = op
				break
			}
		}
		a.Summary = fmt.Sprintf("effect %q of message %s ran %d times in group %s",
			first.Value, first.MsgID, counts[k].n, first.Group)
	}
	return col.result(InvNoDupEffect, checked, false, "")
}
