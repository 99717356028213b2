package check_test

import (
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/reference/saga"
)

var fulfil = saga.Definition{Name: "fulfil", Steps: []saga.Step{
	{Name: "place", Compensation: "cancel"},
	{Name: "reserve", Compensation: "release"},
	{Name: "charge"},
}}

func TestSagaOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		state saga.State
		want  string // "" when the saga must pass
	}{
		{"completed", saga.State{Status: saga.Completed, Done: []string{"place", "reserve", "charge"}}, ""},
		{"compensated in reverse", saga.State{Status: saga.Compensated, Done: []string{"place", "reserve"}, Compensated: []string{"reserve", "place"}}, ""},
		{"failed at once, nothing to undo but place", saga.State{Status: saga.Compensated, Done: []string{"place"}, Compensated: []string{"place"}}, ""},
		{"stuck compensating", saga.State{Status: saga.Compensating, Done: []string{"place", "reserve"}, Compensated: []string{"reserve"}}, "never ended: compensating"},
		{"still running", saga.State{Status: saga.Running, Done: []string{"place"}}, "never ended: running"},
		{"compensated in forward order", saga.State{Status: saga.Compensated, Done: []string{"place", "reserve"}, Compensated: []string{"place", "reserve"}}, "want [reserve, place] (reverse order)"},
		{"compensation skipped a step", saga.State{Status: saga.Compensated, Done: []string{"place", "reserve"}, Compensated: []string{"place"}}, "compensated [place]"},
		{"completed with a step missing", saga.State{Status: saga.Completed, Done: []string{"place", "charge"}}, "completed after steps [place, charge]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check.NewSagaOutcomes(fulfil, 0).Check([]check.SagaEnd{{ID: "o-1", State: tt.state}})
			if tt.want == "" {
				if !res.Valid || len(res.Anomalies) != 0 {
					t.Fatalf("clean saga reported: %+v", res)
				}
				return
			}
			if res.Valid || len(res.Anomalies) != 1 {
				t.Fatalf("broken saga not reported: %+v", res)
			}
			if got := res.Anomalies[0].Summary; !strings.Contains(got, tt.want) || !strings.Contains(got, "o-1") {
				t.Fatalf("summary %q lacks %q or the saga ID", got, tt.want)
			}
		})
	}
}

func TestSagaOutcomesCountsBeyondTheCap(t *testing.T) {
	var ends []check.SagaEnd
	for range 5 {
		ends = append(ends, check.SagaEnd{ID: "x", State: saga.State{Status: saga.Running}})
	}
	res := check.NewSagaOutcomes(fulfil, 2).Check(ends)
	if len(res.Anomalies) != 2 || !strings.Contains(res.Note, "5 broken (3 not listed)") {
		t.Fatalf("anomalies %d, note %q", len(res.Anomalies), res.Note)
	}
}
