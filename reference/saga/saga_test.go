package saga_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/edkit-dev/edkit/reference/saga"
)

var def = saga.Definition{Name: "fulfil", Steps: []saga.Step{
	{Name: "place", Compensation: "cancel"},
	{Name: "reserve", Compensation: "release"},
	{Name: "charge"},
}}

func fold(t *testing.T, ts ...saga.Transition) (saga.State, error) {
	t.Helper()
	s := saga.NewState()
	var err error
	for _, tr := range ts {
		if s, err = def.Apply(s, tr); err != nil {
			return s, err
		}
	}
	return s, nil
}

func TestSagaTransitions(t *testing.T) {
	tests := []struct {
		name        string
		ts          []saga.Transition
		status      saga.Status
		compensated []string
		wantErr     error
	}{
		{"happy path completes", []saga.Transition{{Done: "place"}, {Done: "reserve"}, {Done: "charge"}}, saga.Completed, nil, nil},
		{"failure compensates in reverse", []saga.Transition{{Done: "place"}, {Done: "reserve"}, {Failed: "declined"}, {Compensated: "reserve"}, {Compensated: "place"}}, saga.Compensated, []string{"reserve", "place"}, nil},
		{"failure before any step is compensated at once", []saga.Transition{{Failed: "no"}}, saga.Compensated, nil, nil},
		{"compensating out of order is illegal", []saga.Transition{{Done: "place"}, {Done: "reserve"}, {Failed: "x"}, {Compensated: "place"}}, saga.Compensating, nil, saga.ErrIllegalTransition},
		{"steps out of order are illegal", []saga.Transition{{Done: "reserve"}}, saga.Running, nil, saga.ErrIllegalTransition},
		{"nothing after completion", []saga.Transition{{Done: "place"}, {Done: "reserve"}, {Done: "charge"}, {Failed: "late"}}, saga.Completed, nil, saga.ErrFinished},
		{"still compensating midway", []saga.Transition{{Done: "place"}, {Done: "reserve"}, {Failed: "x"}, {Compensated: "reserve"}}, saga.Compensating, []string{"reserve"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := fold(t, tt.ts...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if s.Status != tt.status {
				t.Fatalf("status = %s, want %s", s.Status, tt.status)
			}
			if !slices.Equal(s.Compensated, tt.compensated) {
				t.Fatalf("compensated = %v, want %v", s.Compensated, tt.compensated)
			}
		})
	}
}

func TestNextCompensationSkipsStepsWithoutOne(t *testing.T) {
	s, err := fold(t, saga.Transition{Done: "place"}, saga.Transition{Done: "reserve"}, saga.Transition{Failed: "x"})
	if err != nil {
		t.Fatal(err)
	}
	st, ok := def.NextCompensation(s)
	if !ok || st.Compensation != "release" {
		t.Fatalf("next = %+v %v, want release", st, ok)
	}
}

func TestCausesAreRemembered(t *testing.T) {
	s, err := fold(t, saga.Transition{Cause: "evt-1", Done: "place", Commands: [][]byte{[]byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Causes["evt-1"]; !ok || len(got.Commands) != 1 {
		t.Fatalf("cause not remembered: %+v", s.Causes)
	}
}
