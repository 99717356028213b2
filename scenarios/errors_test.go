package scenarios

import (
	"errors"
	"testing"
)

func TestSpecError(t *testing.T) {
	tests := []struct {
		err  SpecError
		want string
	}{
		{SpecError{File: "a.yaml", Line: 3, Column: 17, Msg: "expected an integer"}, "a.yaml:3:17: expected an integer"},
		{SpecError{File: "a.yaml", Msg: "cannot read"}, "a.yaml: cannot read"},
		{SpecError{Msg: "built in Go"}, "built in Go"},
	}
	for _, tt := range tests {
		err := error(&tt.err)
		if got := err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(errors.Join(errors.New("other"), err), ErrInvalidScenario) {
			t.Errorf("%q does not match ErrInvalidScenario", tt.want)
		}
	}
	if errors.Is(errors.New("scenarios: invalid scenario"), ErrInvalidScenario) {
		t.Error("an unrelated error matches ErrInvalidScenario")
	}
}
