package schema

import (
	"errors"
	"fmt"
)

// ErrInvalid marks a schema file that cannot be used: not JSON or YAML,
// not a JSON Schema, or one that does not compile. Every *Error about a
// file's contents matches it with errors.Is; one that could not be read
// wraps the reading error instead (fs.ErrNotExist, yamlfile.ErrTooLarge).
var ErrInvalid = errors.New("schema: invalid schema file")

// Error is one problem with a schema file: where it is (Line and Column
// are 1-based, zero when the problem has no place in the file) and what
// is wrong there.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
	// Err is the cause: ErrInvalid for a problem in the contents, else
	// the error that stopped the file being read.
	Err error
}

// Error renders file:line:column: msg, the form editors and CI logs link.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// UpcastError is one sample that CheckUpcast refused: which (Index, from
// 0), at which stage, and why.
type UpcastError struct {
	Index int
	// Stage is what failed: StageOld, StageUpcast or StageNew.
	Stage string
	Err   error
}

// Stages of CheckUpcast, in the order a sample goes through them.
const (
	StageOld    = "does not validate against the older schema"
	StageUpcast = "the upcaster failed"
	StageNew    = "its upcast does not validate against the newer schema"
)

func (e *UpcastError) Error() string {
	return fmt.Sprintf("schema: sample %d: %s: %v", e.Index, e.Stage, e.Err)
}

func (e *UpcastError) Unwrap() error { return e.Err }
