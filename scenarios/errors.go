package scenarios

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidScenario marks a scenario that fails validation; Run returns
	// it (wrapped with every problem) before starting anything.
	ErrInvalidScenario = errors.New("scenarios: invalid scenario")
	// ErrNotQuiescent is returned when the system under test keeps working
	// past the run's timeout after the Given steps, so When cannot start from
	// a settled state.
	ErrNotQuiescent = errors.New("scenarios: system did not become quiescent")
	// ErrServiceFailed is returned when the shop under test stopped with an
	// error during the run.
	ErrServiceFailed = errors.New("scenarios: service failed")
)

// SpecError is one problem in a scenario: where it was written (File, Line,
// Column; zero Line for scenarios built with the Go DSL) and what was
// expected there. Parse and Validate return one *SpecError or several
// joined with errors.Join, so tools can point an editor at each.
type SpecError struct {
	File   string
	Line   int
	Column int
	Msg    string
}

// Error renders file:line:column: msg, the form editors and CI logs link.
func (e *SpecError) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	default:
		return e.Msg
	}
}

// Is lets callers test any spec problem with errors.Is(err, ErrInvalidScenario).
func (e *SpecError) Is(target error) bool { return target == ErrInvalidScenario }
