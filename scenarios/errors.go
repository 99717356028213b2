package scenarios

import (
	"errors"
	"fmt"
)

// ErrInvalidScenario marks a scenario that fails validation: every
// *SpecError matches it with errors.Is, whichever system's files it is in.
var ErrInvalidScenario = errors.New("scenarios: invalid scenario")

// SpecError is one problem in a scenario: where it was written (File, Line,
// Column; zero Line for scenarios built in Go) and what was expected there.
// Parsers return one *SpecError or several joined with errors.Join, so tools
// can point an editor at each.
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
