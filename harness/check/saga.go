package check

import (
	"fmt"
	"slices"
	"strings"

	"github.com/edkit-dev/edkit/reference/saga"
)

// InvSagaOutcome is invariant 15: each saga ends completed, or with every
// done step compensated in reverse order.
const InvSagaOutcome = "saga-outcome"

// SagaEnd is one saga instance's final, persisted state, as a run finds it
// after quiescence.
type SagaEnd struct {
	ID    string
	State saga.State
}

// SagaOutcomes checks invariant 15 over final saga states rather than a
// history: what matters is where each saga ended, and the saga's own
// persisted state is the authority on that.
type SagaOutcomes struct {
	def          saga.Definition
	maxAnomalies int
}

// NewSagaOutcomes checks sagas of def. maxAnomalies caps the anomalies
// listed (DefaultMaxAnomalies if zero); all are counted.
func NewSagaOutcomes(def saga.Definition, maxAnomalies int) *SagaOutcomes {
	if maxAnomalies <= 0 {
		maxAnomalies = DefaultMaxAnomalies
	}
	return &SagaOutcomes{def: def, maxAnomalies: maxAnomalies}
}

// Check judges every saga's end. A saga passes when it completed every step
// in order, or when it compensated, in reverse order of the steps done,
// every done step that has a compensation.
func (c *SagaOutcomes) Check(ends []SagaEnd) Result {
	res := Result{Invariant: InvSagaOutcome, Valid: true, Checked: len(ends)}
	var completed, compensated, broken int
	for _, e := range ends {
		problem := c.problem(e.State)
		switch {
		case problem != "":
			broken++
			res.Valid = false
			if len(res.Anomalies) < c.maxAnomalies {
				res.Anomalies = append(res.Anomalies, Anomaly{Invariant: InvSagaOutcome,
					Summary: fmt.Sprintf("saga %s %s", e.ID, problem)})
			}
		case e.State.Status == saga.Completed:
			completed++
		default:
			compensated++
		}
	}
	res.Found = broken
	res.Note = fmt.Sprintf("%d sagas: %d completed, %d compensated, %d broken", len(ends), completed, compensated, broken)
	if broken > len(res.Anomalies) {
		res.Note += fmt.Sprintf(" (%d not listed)", broken-len(res.Anomalies))
	}
	return res
}

func (c *SagaOutcomes) problem(s saga.State) string {
	var steps []string
	for _, st := range c.def.Steps {
		steps = append(steps, st.Name)
	}
	switch s.Status {
	case saga.Completed:
		if !slices.Equal(s.Done, steps) {
			return fmt.Sprintf("completed after steps [%s], want [%s]", strings.Join(s.Done, ", "), strings.Join(steps, ", "))
		}
		return ""
	case saga.Compensated:
		var want []string
		for i := len(s.Done) - 1; i >= 0; i-- {
			for _, st := range c.def.Steps {
				if st.Name == s.Done[i] && st.Compensation != "" {
					want = append(want, st.Name)
				}
			}
		}
		if !slices.Equal(s.Compensated, want) {
			return fmt.Sprintf("compensated [%s] after doing [%s], want [%s] (reverse order)",
				strings.Join(s.Compensated, ", "), strings.Join(s.Done, ", "), strings.Join(want, ", "))
		}
		return ""
	}
	return fmt.Sprintf("never ended: %s after steps [%s], compensated [%s]", s.Status,
		strings.Join(s.Done, ", "), strings.Join(s.Compensated, ", "))
}
