package scenarios_test

import (
	"slices"
	"testing"

	"github.com/edkit-dev/edkit/scenarios"
)

func TestVocabularyAccessors(t *testing.T) {
	v := &scenarios.Vocabulary{}
	scenarios.Define[placeOrder](v, scenarios.KindCommand, "Zeta")
	scenarios.Define[placeOrder](v, scenarios.KindCommand, "Alpha")
	if got := v.Types(scenarios.KindCommand); !slices.Equal(got, []string{"Alpha", "Zeta"}) {
		t.Errorf("Types(command) = %v, want [Alpha Zeta]", got)
	}
	if got := v.Types(scenarios.KindEvent); len(got) != 0 {
		t.Errorf("Types(event) = %v, want none", got)
	}
	a, ok := v.New(scenarios.KindCommand, "Alpha")
	b, _ := v.New(scenarios.KindCommand, "Alpha")
	if p, isPtr := a.(*placeOrder); !ok || !isPtr || *p != (placeOrder{}) {
		t.Fatalf("New(command, Alpha) = %#v, %v; want a fresh *placeOrder", a, ok)
	}
	if a == b {
		t.Error("New returned the same value twice; want a fresh one each call")
	}
	if _, ok := v.New(scenarios.KindEvent, "Alpha"); ok {
		t.Error("New(event, Alpha) ok; Alpha is a command only")
	}
	if _, ok := v.NewSetup(); ok {
		t.Error("NewSetup ok on a vocabulary without setup")
	}
	scenarios.Setup[setup](v)
	if s, ok := v.NewSetup(); !ok {
		t.Error("NewSetup not ok after Setup")
	} else if _, isSetup := s.(*setup); !isSetup {
		t.Errorf("NewSetup = %T, want *setup", s)
	}
	var empty scenarios.Vocabulary // the zero Vocabulary answers too
	if len(empty.Types(scenarios.KindCommand)) != 0 {
		t.Error("zero Vocabulary has types")
	}
}
