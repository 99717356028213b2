package saga

import (
	"fmt"
	"slices"
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
	if s.Status == Completed || s.Status == Compensated {
		return s, fmt.Errorf("%w: %s already %s", ErrFinished, d.Name, s.Status)
	}
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
