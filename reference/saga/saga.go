package saga

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Status is where a saga stands.
type Status string

const (
	// Running: steps are being done.
	Running Status = "running"
	// Completed: every step was done.
	Completed Status = "completed"
	// Compensating: a step failed; done steps are being undone in reverse.
	Compensating Status = "compensating"
	// Compensated: every done step that has a compensation was undone.
	Compensated Status = "compensated"
)

// Step is one forward action of a saga and the name of the action that undoes
// it ("" when the step needs no undoing, such as the last one).
type Step struct {
	Name         string
	Compensation string
}

// Definition is the ordered list of a saga's steps.
type Definition struct {
	Name  string
	Steps []Step
	// Late says what a message for a saga that has ended means: a reply
	// that came after the saga completed or compensated (a payment
	// confirmed after its deadline cancelled the order, say). See
	// CheckLate.
	LatePolicy LatePolicy
}

// LatePolicy is what a saga does with a message that arrives after it
// ended.
type LatePolicy int

const (
	// IgnoreLate records the late message (its cause) and ignores it: the
	// saga's outcome stands. The default.
	IgnoreLate LatePolicy = iota
	// RejectLate answers a late message with a *LateError, for a saga
	// whose late replies need a person (money charged after the order was
	// cancelled): the runtime dead-letters it.
	RejectLate
)

// Deadline is a time by which something must have happened, else the saga
// acts on it: "payment answers within 30 minutes". Deadlines live in the
// saga's transitions, so a saga recovered after a restart knows which are
// pending; At is computed from the time of the message that set it (the
// store's clock), never from a clock read while reacting, so a replay
// sets the same deadline.
type Deadline struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// Cause is the Cause of the transition that answers d firing: unique per
// name and time, so a deadline set again after it fired fires again.
func (d Deadline) Cause() string {
	return "deadline:" + d.Name + "@" + d.At.UTC().Format(time.RFC3339Nano)
}

// Transition is one persisted change of a saga's state. A saga's stream is a
// list of transitions; folding them gives its State. Cause is the ID of the
// message that triggered the transition, so a redelivered message is
// recognised and its outputs (Commands) re-sent rather than recomputed.
type Transition struct {
	Cause       string   `json:"cause"`
	Done        string   `json:"done,omitempty"`
	Failed      string   `json:"failed,omitempty"`
	Compensated string   `json:"compensated,omitempty"`
	Finished    bool     `json:"finished,omitempty"`
	Commands    [][]byte `json:"commands,omitempty"`
	// Data is context the saga keeps for later steps (the order's amount,
	// say); the latest non-empty Data wins.
	Data []byte `json:"data,omitempty"`
	// Schedule sets deadlines (one of the same name is replaced), Cancel
	// removes pending ones by name, and Fired names the pending deadline
	// this transition answers (its Cause is then the Deadline's Cause).
	Schedule []Deadline `json:"schedule,omitempty"`
	Cancel   []string   `json:"cancel,omitempty"`
	Fired    string     `json:"fired,omitempty"`
}

// State is a saga's folded state.
type State struct {
	Status      Status
	Done        []string
	Compensated []string
	Reason      string
	Data        []byte
	// Causes maps each handled message ID to the transition it caused.
	Causes map[string]Transition
	// Deadlines are the pending deadlines, by name. A saga that ends has
	// none: nothing fires after the end.
	Deadlines map[string]time.Time
}

// NewState is a saga that has not started.
func NewState() State { return State{Status: Running, Causes: map[string]Transition{}} }

// Apply folds one transition into the state, checking that it is legal for
// the definition: steps done in order, compensations in reverse order of the
// steps done, nothing after the saga finished.
func (d Definition) Apply(s State, t Transition) (State, error) {
	if s.Causes == nil {
		s.Causes = map[string]Transition{}
	}
	if s.Ended() {
		return s, fmt.Errorf("%w: %s already %s", ErrFinished, d.Name, s.Status)
	}
	if t.Fired != "" {
		if _, ok := s.Deadlines[t.Fired]; !ok {
			return s, fmt.Errorf("%w: deadline %s fired but is not pending", ErrIllegalTransition, t.Fired)
		}
	}
	var err error
	if s, err = d.advance(s, t); err != nil {
		return s, err
	}
	s.Deadlines = deadlines(s, t)
	if len(t.Data) > 0 {
		s.Data = t.Data
	}
	if t.Cause != "" {
		causes := make(map[string]Transition, len(s.Causes)+1)
		for k, v := range s.Causes {
			causes[k] = v
		}
		causes[t.Cause] = t
		s.Causes = causes
	}
	return s, nil
}

// Ended reports whether the saga completed or compensated.
func (s State) Ended() bool { return s.Status == Completed || s.Status == Compensated }

// deadlines are s's pending deadlines after t: t's fired and cancelled
// ones gone, its scheduled ones set, none once the saga ended. The map is
// a copy: states are values, shared by the transitions that made them.
func deadlines(s State, t Transition) map[string]time.Time {
	if s.Ended() {
		return nil
	}
	if t.Fired == "" && len(t.Cancel) == 0 && len(t.Schedule) == 0 {
		return s.Deadlines
	}
	out := maps.Clone(s.Deadlines)
	if out == nil {
		out = map[string]time.Time{}
	}
	delete(out, t.Fired)
	for _, n := range t.Cancel {
		delete(out, n)
	}
	for _, dl := range t.Schedule {
		out[dl.Name] = dl.At
	}
	return out
}

// Due lists s's pending deadlines at or before now, earliest first (by
// name when two are due at once).
func (s State) Due(now time.Time) []Deadline {
	var due []Deadline
	for n, at := range s.Deadlines {
		if !at.After(now) {
			due = append(due, Deadline{Name: n, At: at})
		}
	}
	slices.SortFunc(due, func(a, b Deadline) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return due
}

// CheckLate is what the definition's LatePolicy says of message cause
// arriving for s: nil when s has not ended or the policy ignores late
// messages, else a *LateError.
func (d Definition) CheckLate(s State, cause string) error {
	if !s.Ended() || d.LatePolicy == IgnoreLate {
		return nil
	}
	return &LateError{Saga: d.Name, Status: s.Status, Cause: cause}
}

// advance applies t's step change (done, failed, compensated).
func (d Definition) advance(s State, t Transition) (State, error) {
	switch {
	case t.Done != "":
		if s.Status != Running {
			return s, fmt.Errorf("%w: step %s done while %s", ErrIllegalTransition, t.Done, s.Status)
		}
		if len(s.Done) >= len(d.Steps) || d.Steps[len(s.Done)].Name != t.Done {
			return s, fmt.Errorf("%w: step %s done out of order after %v", ErrIllegalTransition, t.Done, s.Done)
		}
		s.Done = append(slices.Clone(s.Done), t.Done)
		if len(s.Done) == len(d.Steps) {
			s.Status = Completed
		}
	case t.Failed != "":
		if s.Status != Running {
			return s, fmt.Errorf("%w: failure while %s", ErrIllegalTransition, s.Status)
		}
		s.Status = Compensating
		s.Reason = t.Failed
		if _, ok := d.NextCompensation(s); !ok {
			s.Status = Compensated
		}
	case t.Compensated != "":
		next, ok := d.NextCompensation(s)
		if s.Status != Compensating || !ok || next.Name != t.Compensated {
			return s, fmt.Errorf("%w: compensated %s, expected %s", ErrIllegalTransition, t.Compensated, next.Name)
		}
		s.Compensated = append(slices.Clone(s.Compensated), t.Compensated)
		if _, more := d.NextCompensation(s); !more {
			s.Status = Compensated
		}
	}
	return s, nil
}

// NextCompensation is the next done step to undo, walking done steps in
// reverse and skipping those without a compensation.
func (d Definition) NextCompensation(s State) (Step, bool) {
	for i := len(s.Done) - 1 - len(s.Compensated); i >= 0; i-- {
		st := d.step(s.Done[i])
		if st.Compensation != "" && !slices.Contains(s.Compensated, st.Name) {
			return st, true
		}
	}
	return Step{}, false
}

func (d Definition) step(name string) Step {
	for _, s := range d.Steps {
		if s.Name == name {
			return s
		}
	}
	return Step{Name: name}
}
