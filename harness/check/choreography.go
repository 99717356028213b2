package check

import (
	"fmt"

	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/saga"
)

// InvChoreography is invariant 15 for a saga no one orchestrates: folded
// from the events its participants published, each saga ends completed, or
// with every done step compensated in reverse order, and no participant
// acts out of turn.
const InvChoreography = "choreography-outcome"

// Choreography judges a choreographed saga from what edkit observed: the
// publishes of the participants' events on Topic, each op's Value its
// type (the bus's type header) and its Key the saga, folded in history
// order by saga.Choreography. Unlike SagaOutcomes it needs no saga state
// from the system — a choreography has none to give.
type Choreography struct {
	C     saga.Choreography
	Topic string
	// Settled says the run quiesced: a saga still running is then broken
	// (left half done); before quiescence it may be in flight.
	Settled      bool
	MaxAnomalies int
}

// SetSettled tells the checker whether the run quiesced; the harness calls
// it before judging (see Settler).
func (c *Choreography) SetSettled(settled bool) { c.Settled = settled }

// Name is the invariant's name.
func (c *Choreography) Name() string { return InvChoreography }

// Check folds every publish OK on the topic into its saga.
func (c *Choreography) Check(ops []history.Op) Result {
	chor := c.C
	chor.Saga = func(e event.Envelope) string { return e.Stream } // the op's key, below
	o := chor.NewObserver()
	col := newCollector(c.MaxAnomalies)
	add := func(summary string, op history.Op) {
		if col.wants(op.Time) {
			col.add(Anomaly{Invariant: InvChoreography, Summary: summary, Witness: []history.Op{op}, At: op.Time})
		}
	}
	last, reported := map[string]history.Op{}, map[string]bool{}
	for _, op := range ops {
		if op.F != history.Publish || op.Type != history.OK || op.Topic != c.Topic {
			continue
		}
		last[op.Key] = op
		if err := o.Observe(event.Envelope{ID: op.MsgID, Type: op.Value, Stream: op.Key}); err != nil && !reported[op.Key] {
			reported[op.Key] = true // the first illegal event is the one to fix
			add(err.Error(), op)
		}
	}
	sagas := o.Sagas()
	for _, id := range sagas {
		if s, _ := o.State(id); c.Settled && o.Broken(id) == nil && !s.Ended() {
			add(fmt.Sprintf("saga %s never ended: %s after steps %v, compensated %v", id, s.Status, s.Done, s.Compensated), last[id])
		}
	}
	return col.result(InvChoreography, len(sagas), false, "")
}
