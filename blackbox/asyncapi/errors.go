package asyncapi

import (
	"errors"
	"fmt"
)

// Sentinels, for errors.Is.
var (
	// ErrCannotSample is a message for which no payload can be made: a
	// schema that generation cannot satisfy (a pattern without examples,
	// bounds that leave no value, a payload too large to build).
	ErrCannotSample = errors.New("asyncapi: cannot generate a payload")
	// ErrInvalidPayload is a payload that breaks its message's schema; the
	// error is a *PayloadError.
	ErrInvalidPayload = errors.New("asyncapi: payload breaks the message schema")
)

// errRefused is why the schema compiler loads nothing: every $ref was
// resolved inside the document before compiling, so one that remains
// (in a $schema, say) would reach out to the disk or the network.
var errRefused = errors.New("asyncapi: schemas are checked offline: a reference may point only inside the document")

// SpecError is one problem in a document, at file:line:column (line 0 when
// the problem concerns the whole file, column 0 when only the line is
// known).
type SpecError struct {
	File         string
	Line, Column int
	Msg          string
}

// Error renders file:line:column: msg.
func (e *SpecError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// PayloadError is a payload that breaks its message's schema: where (a
// JSON pointer into the payload, "" for the whole of it) and why.
type PayloadError struct {
	Message string // the message's name
	Pointer string
	Reason  string
}

// Error renders the message, the place and the reason.
func (e *PayloadError) Error() string {
	at := e.Pointer
	if at == "" {
		at = `"" (the whole payload)`
	}
	return fmt.Sprintf("message %s: payload at %s: %s", e.Message, at, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidPayload) true.
func (e *PayloadError) Is(target error) bool { return target == ErrInvalidPayload }
