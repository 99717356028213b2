package shopscenario

import (
	"fmt"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
)

// Pass succeeds for an *Outcome whose expectations all held. Its failure
// message is the outcome's report, transcript included, so a failing spec
// shows the message sequence the run saw.
func Pass() types.GomegaMatcher { return passMatcher{} }

type passMatcher struct{}

func (passMatcher) Match(actual any) (bool, error) {
	o, ok := actual.(*Outcome)
	if !ok || o == nil {
		return false, fmt.Errorf("shopscenario.Pass expects a non-nil *shopscenario.Outcome, got %T", actual)
	}
	return o.Passed(), nil
}

func (passMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("expected the scenario to pass:\n%s", actual.(*Outcome))
}

func (passMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("expected the scenario to fail, but it passed:\n%s", actual.(*Outcome))
}

// HaveReceivedCommands succeeds for an *Outcome whose transcript shows the
// command service receiving exactly these commands for the order (besides
// the scenario's own) — e.g. compensation in reverse order.
func HaveReceivedCommands(orderID string, types ...string) types.GomegaMatcher {
	return gomega.WithTransform(func(o *Outcome) []string { return o.Transcript.Commands(orderID) },
		gomega.Equal(append([]string{}, types...)))
}

// HaveDeadLettered succeeds for an *Outcome whose transcript shows the
// message dead-lettered after the given attempts (0: any).
func HaveDeadLettered(id string, attempts int) types.GomegaMatcher {
	return gomega.WithTransform(func(o *Outcome) []Entry {
		var out []Entry
		for _, d := range o.Transcript.DeadLetters() {
			if d.ID == id && (attempts == 0 || d.Attempts == attempts) {
				out = append(out, d)
			}
		}
		return out
	}, gomega.Not(gomega.BeEmpty()))
}
