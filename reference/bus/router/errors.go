package router

import (
	"errors"
	"fmt"
)

var (
	// ErrStarted is returned when routes are registered after a Router has
	// started running or a Switch has handled its first message, or when Run
	// is called twice: the set of routes is fixed once messages flow, so
	// which handler a message reaches never depends on timing.
	ErrStarted = errors.New("router: already started")
	// ErrDuplicateRoute is returned when a topic (Router) or value (Switch)
	// already has a handler.
	ErrDuplicateRoute = errors.New("router: route already registered")
	// ErrNoRoutes is returned by Run on a Router without routes.
	ErrNoRoutes = errors.New("router: no routes")
	// ErrNotJSON marks a payload ByField could not decode as JSON.
	ErrNotJSON = errors.New("router: payload is not JSON")
)

// NoRouteError says which value no route matched. A Switch returns it
// wrapped in bus.Permanent, so retry gives up and the message dead-letters.
type NoRouteError struct {
	// Selector names what was read: `header "kind"` or `field "order.kind"`.
	Selector string
	// Value is the value read; for a JSON field that is not a string it is
	// the field's JSON text.
	Value string
	// Absent is true when the header or field was missing.
	Absent bool
}

func (e *NoRouteError) Error() string {
	if e.Absent {
		return fmt.Sprintf("router: no route: %s absent", e.Selector)
	}
	return fmt.Sprintf("router: no route for %s = %q", e.Selector, e.Value)
}
