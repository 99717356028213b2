package saga

import (
	"fmt"
	"slices"

	"github.com/edkit-dev/edkit/reference/event"
)

// Choreography is a saga with no orchestrator: each participant reacts to
// the others' events and publishes its own (the bank debits, then the
// other bank credits or reports it cannot, then the first refunds). No one
// stores the saga's transitions, so its state is folded, per saga, from
// the events the participants publish — and the invariant an orchestrated
// saga keeps (completed, or every done step compensated in reverse order)
// can be judged from observation, which is where a choreography's bugs
// hide: a participant that never hears the failure, or refunds twice.
//
// Each event type the saga's participants publish is mapped to what it
// means for the saga's Definition: a step done, a step failed, a step
// undone. Events of other types are not part of the saga.
type Choreography struct {
	Definition
	// Done maps an event type to the step it completes, Failed to the step
	// whose failure it reports, Compensated to the step it undoes.
	Done, Failed, Compensated map[string]string
	// Saga names the saga an event belongs to; by default its
	// correlation ID (event.MetaCorrelationID).
	Saga func(event.Envelope) string
}

// Transition is what e means for its saga (ok false: e is not part of it).
// Its Cause is e's ID, so a redelivered event is recognised.
func (c Choreography) Transition(e event.Envelope) (t Transition, ok bool) {
	t.Cause = e.ID
	switch {
	case c.Done[e.Type] != "":
		t.Done = c.Done[e.Type]
	case c.Failed[e.Type] != "":
		t.Failed = c.Failed[e.Type]
	case c.Compensated[e.Type] != "":
		t.Compensated = c.Compensated[e.Type]
	default:
		return Transition{}, false
	}
	return t, true
}

func (c Choreography) sagaOf(e event.Envelope) string {
	if c.Saga != nil {
		return c.Saga(e)
	}
	return e.Metadata[event.MetaCorrelationID]
}

// Observer folds the sagas of one choreography from their events as they
// are seen, in each saga's order. It holds one State per saga until
// Forget.
type Observer struct {
	c      Choreography
	states map[string]State
	broken map[string]error
}

// NewObserver starts folding c's sagas.
func (c Choreography) NewObserver() *Observer {
	return &Observer{c: c, states: map[string]State{}, broken: map[string]error{}}
}

// Observe folds e into its saga. An event seen before (by ID) changes
// nothing; one the definition does not allow where it came — a step out of
// order, a compensation in the wrong order, anything after the end — is
// an error, kept for the saga (Broken) and returned.
func (o *Observer) Observe(e event.Envelope) error {
	t, ok := o.c.Transition(e)
	if !ok {
		return nil
	}
	id := o.c.sagaOf(e)
	if id == "" {
		return fmt.Errorf("%w: %s event %s names no saga", ErrIllegalTransition, e.Type, e.ID)
	}
	s, seen := o.states[id]
	if !seen {
		s = NewState()
	}
	if _, dup := s.Causes[t.Cause]; dup {
		return nil
	}
	next, err := o.c.Apply(s, t)
	if err != nil {
		err = fmt.Errorf("saga %s: %s %s: %w", id, e.Type, e.ID, err)
		if _, first := o.broken[id]; !first {
			o.broken[id] = err
		}
		o.states[id] = s
		return err
	}
	o.states[id] = next
	return nil
}

// State is saga id's folded state.
func (o *Observer) State(id string) (State, bool) {
	s, ok := o.states[id]
	return s, ok
}

// Broken is the first illegal event seen for saga id, nil if none.
func (o *Observer) Broken(id string) error { return o.broken[id] }

// Sagas are the sagas seen, sorted.
func (o *Observer) Sagas() []string {
	ids := make([]string, 0, len(o.states))
	for id := range o.states {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Forget drops saga id, once its outcome was judged: an observer of a
// long run holds the sagas in flight, not every saga ever seen.
func (o *Observer) Forget(id string) {
	delete(o.states, id)
	delete(o.broken, id)
}
