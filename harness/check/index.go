package check

import (
	"github.com/edkit-dev/edkit/harness/history"
)

// none marks an absent op position or ID in the index's int32 tables.
const none = -1

// Publish status of a message, aggregated over all its publish attempts.
const (
	pubNone    uint8 = iota // never published in this history
	pubFail                 // every attempt surely failed
	pubUnknown              // some attempt ended info, or never completed
	pubOK                   // some attempt surely succeeded
)

// msgInfo is what the history says about one message ID, across groups.
type msgInfo struct {
	// firstPub is the position of the message's earliest publish op.
	firstPub int32
	// pubInvoke is the position of the first publish invoke.
	pubInvoke int32
	// pubOK, pubFail are the first ok and fail completions.
	pubOK, pubFail int32
	// pending counts publish invokes minus completions.
	pending int32
	// firstDeliver is the first delivery to any group.
	firstDeliver int32
	// keyPos is an op that carries the message's Key, if any.
	keyPos  int32
	hasInfo bool
	seq     int64
}

func (m *msgInfo) status() uint8 {
	switch {
	case m.pubOK != none:
		return pubOK
	case m.pending > 0 || m.hasInfo:
		return pubUnknown
	case m.pubFail != none:
		return pubFail
	case m.firstPub != none:
		return pubUnknown
	}
	return pubNone
}

// pairInfo is what one consumer group did with one message.
type pairInfo struct {
	msg, group int32
	// Op positions, none when absent.
	firstDeliver, lastDeliver int32
	firstAck, firstDL         int32
	// dupDeliver is the first delivery after an ack.
	dupDeliver int32
	// badDL is the first dead-letter op without a reason or attempt.
	badDL int32
	// dups counts deliveries after an ack.
	dups int32
}

// index is a compact view of a history shared by every checker of a Run:
// strings are interned to dense int32 IDs so that checkers touch arrays, not
// maps, per op. Positions are int32: a history holds fewer than 2^31 ops.
type index struct {
	ops []history.Op
	// Per op: interned message, group and (message, group) pair; none when
	// the op carries no MsgID (or, for pair, is not a consumer-side op).
	msg  []int32
	pair []int32

	msgs   []msgInfo
	groups []string
	pairs  []pairInfo

	dense   bool // pair ID = msg*len(groups)+group, else pairMap
	pairMap map[uint64]int32
}

func isConsumerOp(f history.Func) bool {
	switch f {
	case history.Deliver, history.Ack, history.Nack, history.Effect, history.DeadLetter:
		return true
	}
	return false
}

func newIndex(ops []history.Op) *index {
	n := len(ops)
	ix := &index{
		ops:  ops,
		msg:  make([]int32, n),
		pair: make([]int32, n),
	}
	ix.internOps()
	ix.foldPairs()
	return ix
}

// internOps is pass 1: intern message IDs and groups, and fold each
// message's publish outcomes. It leaves each consumer-side op's group in
// ix.pair, for foldPairs to turn into its pair.
func (ix *index) internOps() {
	ops, n := ix.ops, len(ix.ops)
	// Ops of one message cluster (invoke, ok, deliver, ack), so a one-entry
	// cache in front of the map saves most hash lookups.
	ids := make(map[string]int32, n/8+16)
	ix.msgs = make([]msgInfo, 0, n/8+16)
	lastMsg, lastMsgID := "", int32(none)
	var groupIDs map[string]int32
	lastGroup, lastGroupID := "", int32(none)

	for i := range ops {
		op := &ops[i]
		m := int32(none)
		if op.MsgID != "" {
			if op.MsgID == lastMsg && lastMsgID != none {
				m = lastMsgID
			} else {
				id, ok := ids[op.MsgID]
				if !ok {
					id = int32(len(ix.msgs))
					ids[op.MsgID] = id
					ix.msgs = append(ix.msgs, msgInfo{
						firstPub: none, pubInvoke: none, pubOK: none, pubFail: none,
						firstDeliver: none, keyPos: none,
					})
				}
				m, lastMsg, lastMsgID = id, op.MsgID, id
			}
			mi := &ix.msgs[m]
			if mi.seq == 0 && op.Seq > 0 {
				mi.seq = op.Seq
			}
			if mi.keyPos == none && op.Key != "" {
				mi.keyPos = int32(i)
			}
			if op.F == history.Publish {
				if mi.firstPub == none {
					mi.firstPub = int32(i)
				}
				switch op.Type {
				case history.Invoke:
					mi.pending++
					if mi.pubInvoke == none {
						mi.pubInvoke = int32(i)
					}
				case history.OK:
					mi.pending--
					if mi.pubOK == none {
						mi.pubOK = int32(i)
					}
				case history.Fail:
					mi.pending--
					if mi.pubFail == none {
						mi.pubFail = int32(i)
					}
				case history.Info:
					mi.pending--
					mi.hasInfo = true
				}
			} else if op.F == history.Deliver && op.Type == history.OK && mi.firstDeliver == none {
				mi.firstDeliver = int32(i)
			}
		}
		ix.msg[i] = m
		g := int32(none)
		if m != none && op.Type == history.OK && isConsumerOp(op.F) {
			if op.Group == lastGroup && lastGroupID != none {
				g = lastGroupID
			} else {
				g = ix.internGroup(op.Group, &groupIDs)
				lastGroup, lastGroupID = op.Group, g
			}
		}
		// pair holds the group until pass 2 turns it into the pair.
		ix.pair[i] = g
	}

}

// foldPairs is pass 2: fold the consumer-side ops per (message, group).
func (ix *index) foldPairs() {
	ops, n := ix.ops, len(ix.ops)
	nG := len(ix.groups)
	ix.dense = nG > 0 && len(ix.msgs)*nG <= 4*n+64
	if ix.dense {
		ix.pairs = make([]pairInfo, len(ix.msgs)*nG)
		for p := range ix.pairs {
			ix.pairs[p] = newPair(int32(p/nG), int32(p%nG))
		}
	} else {
		ix.pairMap = make(map[uint64]int32)
	}
	for i := range ops {
		g := ix.pair[i]
		if g == none {
			continue
		}
		m := ix.msg[i]
		var p int32
		if ix.dense {
			p = m*int32(nG) + g
		} else {
			k := uint64(uint32(m))<<32 | uint64(uint32(g))
			id, ok := ix.pairMap[k]
			if !ok {
				id = int32(len(ix.pairs))
				ix.pairMap[k] = id
				ix.pairs = append(ix.pairs, newPair(m, g))
			}
			p = id
		}
		ix.pair[i] = p
		pi := &ix.pairs[p]
		op := &ops[i]
		switch op.F {
		case history.Deliver:
			if pi.firstDeliver == none {
				pi.firstDeliver = int32(i)
			}
			pi.lastDeliver = int32(i)
			if pi.firstAck != none {
				pi.dups++
				if pi.dupDeliver == none {
					pi.dupDeliver = int32(i)
				}
			}
		case history.Ack:
			if pi.firstAck == none {
				pi.firstAck = int32(i)
			}
		case history.DeadLetter:
			if pi.firstDL == none {
				pi.firstDL = int32(i)
			}
			if pi.badDL == none && (op.Value == "" || op.Attempt < 1) {
				pi.badDL = int32(i)
			}
		}
	}
}

func newPair(m, g int32) pairInfo {
	return pairInfo{
		msg: m, group: g,
		firstDeliver: none, lastDeliver: none, firstAck: none, firstDL: none,
		dupDeliver: none, badDL: none,
	}
}

// internGroup returns name's group ID, adding it. Groups are few, so a
// linear scan beats hashing until there are many.
func (ix *index) internGroup(name string, m *map[string]int32) int32 {
	if *m == nil {
		for i, g := range ix.groups {
			if g == name {
				return int32(i)
			}
		}
		if len(ix.groups) < 16 {
			ix.groups = append(ix.groups, name)
			return int32(len(ix.groups) - 1)
		}
		*m = make(map[string]int32, 64)
		for i, g := range ix.groups {
			(*m)[g] = int32(i)
		}
	}
	if id, ok := (*m)[name]; ok {
		return id
	}
	ix.groups = append(ix.groups, name)
	id := int32(len(ix.groups) - 1)
	(*m)[name] = id
	return id
}

// groupID returns the ID of a group seen in the history, or none.
func (ix *index) groupID(name string) int32 {
	for i, g := range ix.groups {
		if g == name {
			return int32(i)
		}
	}
	return none
}

// pairID returns the pair of message m and group g, or none if the group
// never touched the message.
func (ix *index) pairID(m, g int32) int32 {
	if m == none || g == none {
		return none
	}
	if ix.dense {
		return m*int32(len(ix.groups)) + g
	}
	if p, ok := ix.pairMap[uint64(uint32(m))<<32|uint64(uint32(g))]; ok {
		return p
	}
	return none
}

// msgID is the message's ID string.
func (ix *index) msgID(m int32) string {
	mi := &ix.msgs[m]
	for _, p := range [...]int32{mi.firstPub, mi.firstDeliver, mi.keyPos} {
		if p != none {
			return ix.ops[p].MsgID
		}
	}
	return ""
}

// msgIDOfPair avoids a search: any op of the pair names the message.
func (ix *index) pairMsgID(p *pairInfo) string {
	for _, pos := range [...]int32{p.firstDeliver, p.firstAck, p.firstDL} {
		if pos != none {
			return ix.ops[pos].MsgID
		}
	}
	return ix.msgID(p.msg)
}

// key is the message's Key, or "".
func (ix *index) key(m int32) string {
	if p := ix.msgs[m].keyPos; p != none {
		return ix.ops[p].Key
	}
	return ""
}

// witness gathers the ops at the given positions, skipping none and
// duplicates, in history order.
func (ix *index) witness(pos ...int32) []history.Op {
	// Insertion sort: witnesses are a handful of ops.
	for i := 1; i < len(pos); i++ {
		for j := i; j > 0 && pos[j] < pos[j-1]; j-- {
			pos[j], pos[j-1] = pos[j-1], pos[j]
		}
	}
	out := make([]history.Op, 0, len(pos))
	prev := int32(none) // sorted, so duplicates are adjacent
	for _, p := range pos {
		if p != none && p != prev {
			out = append(out, ix.ops[p])
		}
		prev = p
	}
	return out
}
