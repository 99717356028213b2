package check

import (
	"fmt"
	"slices"

	"github.com/edkit-dev/edkit/harness/history"
)

// LossOptions configures the Loss checker.
type LossOptions struct {
	// Groups names, per topic, the consumer groups that must each settle
	// every message published OK to it. Topics not listed are not checked,
	// since nothing was promised about who consumes them.
	Groups map[string][]string
	// MaxAnomalies caps the anomalies listed (DefaultMaxAnomalies if zero).
	MaxAnomalies int
	// Unsettled says the run stopped waiting before the system settled (its
	// quiescence deadline passed): a message not yet settled may still have
	// been on its way, so it is counted as unsettled in the Note, never
	// reported lost. The run judges the unsettled count on its own.
	Unsettled bool
}

// Loss checks InvNoLoss: a publish the broker acknowledged (an OK outcome)
// must end up acked or dead-lettered by every consumer group expected to
// consume its topic. Publishes with an Info (unknown) outcome are not
// required to arrive; failed ones are the Phantom checker's concern.
type Loss struct {
	opts LossOptions
}

var _ Checker = (*Loss)(nil)

// NewLoss returns a Loss checker.
func NewLoss(opts LossOptions) *Loss { return &Loss{opts: opts} }

// Name returns InvNoLoss.
func (c *Loss) Name() string { return InvNoLoss }

// Check judges ops.
func (c *Loss) Check(ops []history.Op) Result { return c.checkIndex(newIndex(ops)) }

func (c *Loss) checkIndex(ix *index) Result {
	r, _ := c.checkPart(ix)
	return r
}

// checkPart judges ix and also returns the unsettled count, which RunStream
// sums over partitions.
func (c *Loss) checkPart(ix *index) (Result, int) {
	col := newCollector(c.opts.MaxAnomalies)
	unsettled := 0
	// Resolve each topic's groups to IDs once; none means the group never
	// consumed anything, so everything published to the topic is lost to it.
	type want struct {
		name string
		id   int32
	}
	wants := make(map[string][]want, len(c.opts.Groups))
	for topic, gs := range c.opts.Groups {
		ws := make([]want, len(gs))
		for i, g := range gs {
			ws[i] = want{g, ix.groupID(g)}
		}
		wants[topic] = ws
	}
	checked := 0
	lastTopic, lastWants := "", []want(nil)
	for m := range ix.msgs {
		mi := &ix.msgs[m]
		if mi.pubOK == none {
			continue
		}
		topic := ix.ops[mi.pubOK].Topic
		if topic == "" && mi.pubInvoke != none {
			topic = ix.ops[mi.pubInvoke].Topic
		}
		ws := lastWants
		if topic != lastTopic || ws == nil {
			ws = wants[topic]
			lastTopic, lastWants = topic, ws
		}
		for _, w := range ws {
			checked++
			if p := ix.pairID(int32(m), w.id); p != none {
				if pi := &ix.pairs[p]; pi.firstAck != none || pi.firstDL != none {
					continue
				}
			}
			if c.opts.Unsettled {
				unsettled++
				continue
			}
			at := ix.ops[mi.pubOK].Time
			if !col.wants(at) {
				continue
			}
			ok := ix.ops[mi.pubOK]
			col.add(Anomaly{
				Invariant: InvNoLoss,
				Summary: fmt.Sprintf("message %s (topic %s, key %s, seq %d) was published OK but never acked or dead-lettered by group %s",
					ok.MsgID, topic, ix.key(int32(m)), mi.seq, w.name),
				Witness: ix.witness(mi.pubInvoke, mi.pubOK),
				At:      at,
			})
		}
	}
	return col.result(InvNoLoss, checked, false, unsettledNote(unsettled)), unsettled
}

func unsettledNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d message(s) unsettled when the run stopped waiting: not judged as lost", n)
}

// PhantomOptions configures the Phantom checker.
type PhantomOptions struct {
	// MaxAnomalies caps the anomalies listed (DefaultMaxAnomalies if zero).
	MaxAnomalies int
	// Foreign are topics published to by processes edkit does not record
	// (a black-box service's outputs): deliveries there are not judged.
	Foreign []string
}

// Phantom checks InvNoPhantom: nothing is consumed that was not produced.
// A message ID delivered to any group is a phantom when no publish of it
// appears in the history, when every publish of it surely failed, or when
// its first delivery precedes its first publish op. One anomaly per message.
type Phantom struct {
	opts PhantomOptions
}

var _ Checker = (*Phantom)(nil)

// NewPhantom returns a Phantom checker.
func NewPhantom(opts PhantomOptions) *Phantom { return &Phantom{opts: opts} }

// Name returns InvNoPhantom.
func (c *Phantom) Name() string { return InvNoPhantom }

// Check judges ops.
func (c *Phantom) Check(ops []history.Op) Result { return c.checkIndex(newIndex(ops)) }

func (c *Phantom) checkIndex(ix *index) Result {
	col := newCollector(c.opts.MaxAnomalies)
	checked := 0
	for m := range ix.msgs {
		mi := &ix.msgs[m]
		d := mi.firstDeliver
		if d == none || slices.Contains(c.opts.Foreign, ix.ops[d].Topic) {
			continue
		}
		checked++
		var why string
		var wit []int32
		switch st := mi.status(); {
		case st == pubNone:
			why = "but was never published"
			wit = []int32{d}
		case st == pubFail:
			why = "but its publish failed"
			wit = []int32{d, mi.pubInvoke, mi.pubFail}
		case d < mi.firstPub:
			why = "before it was published"
			wit = []int32{d, mi.firstPub}
		default:
			continue
		}
		del := ix.ops[d]
		at := del.Time
		for _, p := range wit {
			if p != none && ix.ops[p].Time > at {
				at = ix.ops[p].Time
			}
		}
		if !col.wants(at) {
			continue
		}
		col.add(Anomaly{
			Invariant: InvNoPhantom,
			Summary:   fmt.Sprintf("message %s was delivered to group %s %s", del.MsgID, del.Group, why),
			Witness:   ix.witness(wit...),
			At:        at,
		})
	}
	return col.result(InvNoPhantom, checked, false, "")
}
