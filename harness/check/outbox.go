package check

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/edkit-dev/edkit/harness/history"
)

// InvOutboxAtomicity is invariant 12: every event an append committed is
// published by the outbox relay, nothing the relay publishes was left
// uncommitted, and each stream's events reach the bus in commit order.
const InvOutboxAtomicity = "outbox-atomicity"

// OutboxOptions says which publishes are the relay's and how they name the
// events they carry, so that one checker fits any system's relay.
type OutboxOptions struct {
	// Topics the relay publishes to; empty means any topic. A publish ok
	// that records no topic counts when the same process invoked the
	// publish of that message on one of these topics.
	Topics []string
	// Processes names the relay's Process in the history (the recording
	// bus's process); empty means any publisher.
	Processes []string
	// MessageID maps a committed event's ID to the message ID the relay
	// publishes it under; nil is the identity, which is what the reference
	// relay does (outbox.Message uses the event ID, so consumers' inboxes
	// recognise a republished event).
	MessageID func(eventID string) string
	// Routed reports whether the relay is meant to publish a committed
	// event (its commit op); nil means every event. A route may keep some
	// events in the store only (the reference shop keeps saga transitions
	// private): those are not reported lost.
	Routed func(commit history.Op) bool
	// MaxAnomalies caps the anomalies listed (DefaultMaxAnomalies if zero).
	MaxAnomalies int
}

// Outbox checks InvOutboxAtomicity over a history holding the store's
// commit ops and the relay's publishes, run after quiescence:
//
//   - a committed event never published OK by the relay was lost by the
//     outbox (the store changed, the world was never told);
//   - a message the relay published OK whose event no commit anywhere in
//     the history made durable is a phantom (the world was told of a
//     change the store does not hold);
//   - per stream, the relay's first OK publish of each event must follow
//     version order, as the outbox promises order per stream.
//
// Republishing a committed event is at-least-once delivery working as
// designed and never an anomaly; only each event's first publish counts
// for order. A publish recorded before its commit op is not a phantom
// either: the writer records its commit after the store's ok, by which
// time a fast relay may already have published the event. Ops are ordered
// by Time, then Index, not by their place in the slice, so a history merged
// from several recorders is judged as well as one recorder's. Checked
// counts the distinct committed events the relay was meant to publish.
//
// Outbox keeps one small entry per distinct event, not the history's
// index, and it joins ops across messages and keys (an event's commit and
// its publish, a stream's events), so RunStream hands it the whole history
// rather than a partition.
type Outbox struct {
	opts      OutboxOptions
	topics    map[string]bool
	processes map[string]bool
}

var _ Checker = (*Outbox)(nil)

// OutboxAtomicity returns the outbox checker for o.
func OutboxAtomicity(o OutboxOptions) *Outbox {
	return &Outbox{opts: o, topics: nameSet(o.Topics), processes: nameSet(o.Processes)}
}

// nameSet is nil for no names, which means any.
func nameSet(names []string) map[string]bool {
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Name returns InvOutboxAtomicity.
func (c *Outbox) Name() string { return InvOutboxAtomicity }

// outboxEntry is what the history says about one message ID: its event's
// commit and the relay's publishes. Positions index the ops slice; none
// when absent.
type outboxEntry struct {
	commit int32 // earliest commit of the event
	ok     int32 // earliest relay publish ok on a relay topic
	// bareOK is the earliest relay publish ok without a topic; it counts
	// once a relay invoke of the message on a relay topic is seen.
	bareOK   int32
	attempts int32 // relay publish invokes, for the lost event's summary
	invoked  bool  // some relay invoke named a relay topic
}

// outboxFold holds the entries in the order their message IDs first
// appeared, so that anomalies come out the same way every run.
type outboxFold struct {
	ops     []history.Op
	ids     map[string]int32
	entries []outboxEntry
	// A publish's invoke and ok are usually adjacent: a one-entry cache in
	// front of ids saves most of the hashing.
	lastID    string
	lastEntry int32
}

// Check judges ops.
func (c *Outbox) Check(ops []history.Op) Result {
	f := c.fold(ops)
	col := newCollector(c.opts.MaxAnomalies)
	checked := 0
	var published []int32 // entries committed and published, for order
	for e := range f.entries {
		en := &f.entries[e]
		ok := en.firstOK(f)
		switch {
		case en.commit == none && ok != none:
			c.phantom(f, col, ok)
		case en.commit != none && c.routed(ops[en.commit]):
			checked++
			if ok == none {
				c.lost(f, col, en)
			}
		}
		if en.commit != none && ok != none {
			en.ok = ok
			published = append(published, int32(e))
		}
	}
	c.order(f, col, published)
	return col.result(InvOutboxAtomicity, checked, false, "")
}

// fold makes one pass over ops, keeping one entry per message ID that a
// commit or a relay publish named.
func (c *Outbox) fold(ops []history.Op) *outboxFold {
	f := &outboxFold{ops: ops, ids: make(map[string]int32, len(ops)/8+16), lastEntry: none}
	for i := range ops {
		op := &ops[i]
		if op.MsgID == "" {
			continue
		}
		switch {
		case op.F == history.Commit && (op.Type == history.OK || op.Type == ""):
			id := op.MsgID
			if c.opts.MessageID != nil {
				id = c.opts.MessageID(id)
			}
			en := f.entry(id)
			en.commit = f.earliest(en.commit, int32(i))
		case op.F == history.Publish && c.byRelay(op):
			c.foldPublish(f, op, int32(i))
		}
	}
	return f
}

func (c *Outbox) foldPublish(f *outboxFold, op *history.Op, pos int32) {
	onTopic := op.Topic != "" || c.topics == nil
	switch op.Type {
	case history.Invoke:
		en := f.entry(op.MsgID)
		en.attempts++
		en.invoked = en.invoked || onTopic
	case history.OK:
		en := f.entry(op.MsgID)
		if onTopic {
			en.ok = f.earliest(en.ok, pos)
		} else {
			en.bareOK = f.earliest(en.bareOK, pos)
		}
	}
}

// byRelay reports whether op is the relay's publish: its process is one of
// the relay's and its topic, when it names one, a relay topic.
func (c *Outbox) byRelay(op *history.Op) bool {
	if c.processes != nil && !c.processes[op.Process] {
		return false
	}
	return op.Topic == "" || c.topics == nil || c.topics[op.Topic]
}

func (c *Outbox) routed(commit history.Op) bool {
	return c.opts.Routed == nil || c.opts.Routed(commit)
}

func (f *outboxFold) entry(id string) *outboxEntry {
	if f.lastEntry != none && id == f.lastID {
		return &f.entries[f.lastEntry]
	}
	e, ok := f.ids[id]
	if !ok {
		e = int32(len(f.entries))
		f.ids[id] = e
		f.entries = append(f.entries, outboxEntry{commit: none, ok: none, bareOK: none})
	}
	f.lastID, f.lastEntry = id, e
	return &f.entries[e]
}

// before orders two positions by the ops' time, then index, then place.
func (f *outboxFold) before(a, b int32) bool {
	oa, ob := &f.ops[a], &f.ops[b]
	if oa.Time != ob.Time {
		return oa.Time < ob.Time
	}
	if oa.Index != ob.Index {
		return oa.Index < ob.Index
	}
	return a < b
}

// earliest is whichever of cur (maybe none) and pos happened first.
func (f *outboxFold) earliest(cur, pos int32) int32 {
	if cur == none || f.before(pos, cur) {
		return pos
	}
	return cur
}

// firstOK is the entry's first relay publish ok, counting a topicless ok
// only when the relay invoked the message on a relay topic.
func (en *outboxEntry) firstOK(f *outboxFold) int32 {
	if en.bareOK == none || !en.invoked {
		return en.ok
	}
	return f.earliest(en.ok, en.bareOK)
}

// witness gathers the ops at pos in time order, skipping repeats.
func (f *outboxFold) witness(pos ...int32) []history.Op {
	sort.Slice(pos, func(i, j int) bool { return f.before(pos[i], pos[j]) })
	out := make([]history.Op, 0, len(pos))
	for i, p := range pos {
		if i == 0 || p != pos[i-1] {
			out = append(out, f.ops[p])
		}
	}
	return out
}

func (c *Outbox) lost(f *outboxFold, col *collector, en *outboxEntry) {
	cm := f.ops[en.commit]
	if !col.wants(cm.Time) {
		return
	}
	tried := ""
	if en.attempts > 0 {
		tried = fmt.Sprintf(" (%d publish attempt(s), none ok)", en.attempts)
	}
	col.add(Anomaly{
		Invariant: InvOutboxAtomicity,
		Summary: fmt.Sprintf("event %s (stream %s, version %d)%s was committed but never published OK%s: lost by the outbox",
			cm.MsgID, cm.Key, cm.Seq, c.mapped(cm.MsgID), tried),
		Witness: f.witness(en.commit),
		At:      cm.Time,
	})
}

// mapped names the message ID an event is published under when it differs.
func (c *Outbox) mapped(eventID string) string {
	if c.opts.MessageID == nil {
		return ""
	}
	if m := c.opts.MessageID(eventID); m != eventID {
		return " as message " + m
	}
	return ""
}

func (c *Outbox) phantom(f *outboxFold, col *collector, ok int32) {
	p := f.ops[ok]
	if !col.wants(p.Time) {
		return
	}
	col.add(Anomaly{
		Invariant: InvOutboxAtomicity,
		Summary: fmt.Sprintf("message %s (topic %s, key %s) was published OK by %s but its event was never committed: a phantom",
			p.MsgID, p.Topic, p.Key, p.Process),
		Witness: f.witness(ok),
		At:      p.Time,
	})
}

// obPublished is a committed and published event as the order pass sorts
// it: its stream interned and its first publish's place copied out of the
// ops, so that sorting compares integers, not strings in scattered ops.
type obPublished struct {
	stream  int32
	entry   int32
	version int64
	t       time.Duration
	index   int64
	pos     int32
}

// publishedBefore orders one stream's events by first publish.
func publishedBefore(a, b obPublished) int {
	return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.index, b.index), cmp.Compare(a.pos, b.pos))
}

// order reports, per stream, each event first published after an event of
// a later version: taken in first-publish order, an event whose version is
// below the highest published before it in its stream came out of order.
// The witness is both commits (they carry stream and version) and both
// first publishes.
func (c *Outbox) order(f *outboxFold, col *collector, published []int32) {
	for _, seg := range byStream(f, published) {
		// Entries come in the order their IDs first appeared, which is
		// nearly always publish order already.
		if !slices.IsSortedFunc(seg, publishedBefore) {
			slices.SortFunc(seg, publishedBefore)
		}
		top := 0 // the highest version published so far in the stream
		for i, r := range seg {
			switch {
			case r.version > seg[top].version:
				top = i
			case r.version < seg[top].version: // equal: the concurrency checker's concern
				c.outOfOrder(f, col, &f.entries[r.entry], &f.entries[seg[top].entry])
			}
		}
	}
}

// byStream groups the published entries by stream (a counting sort, which
// keeps their order), skipping those whose commit carries no version.
func byStream(f *outboxFold, published []int32) [][]obPublished {
	streams := make(map[string]int32)
	var counts []int
	recs := make([]obPublished, 0, len(published))
	for _, e := range published {
		en := &f.entries[e]
		cm, ok := &f.ops[en.commit], &f.ops[en.ok]
		if cm.Seq <= 0 {
			continue // no version recorded: nothing to order by
		}
		s, seen := streams[cm.Key]
		if !seen {
			s = int32(len(counts))
			streams[cm.Key] = s
			counts = append(counts, 0)
		}
		counts[s]++
		recs = append(recs, obPublished{stream: s, entry: e, version: cm.Seq, t: ok.Time, index: ok.Index, pos: en.ok})
	}
	sorted := make([]obPublished, len(recs))
	segs := make([][]obPublished, len(counts))
	next := make([]int, len(counts))
	at := 0
	for s, n := range counts {
		segs[s], next[s] = sorted[at:at+n], at
		at += n
	}
	for _, r := range recs {
		sorted[next[r.stream]] = r
		next[r.stream]++
	}
	return segs
}

// outOfOrder reports en first published after hi, a later version.
func (c *Outbox) outOfOrder(f *outboxFold, col *collector, en, hi *outboxEntry) {
	wit := f.witness(en.commit, hi.commit, hi.ok, en.ok)
	at := wit[len(wit)-1].Time
	if !col.wants(at) {
		return
	}
	cm, hc := &f.ops[en.commit], &f.ops[hi.commit]
	col.add(Anomaly{
		Invariant: InvOutboxAtomicity,
		Summary: fmt.Sprintf("stream %s: event %s (version %d) was first published after event %s (version %d): out of commit order",
			cm.Key, cm.MsgID, cm.Seq, hc.MsgID, hc.Seq),
		Witness: wit,
		At:      at,
	})
}
