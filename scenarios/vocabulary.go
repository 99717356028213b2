package scenarios

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// Kind is what a registered type is in a scenario file.
type Kind string

// The kinds of types a scenario file names.
const (
	KindCommand Kind = "command" // sent to the system (Dispatcher)
	KindEvent   Kind = "event"   // appended to its store as history (EventStorer)
	KindMessage Kind = "message" // published raw on a topic
)

// Vocabulary is the types a system's scenario files may name: each
// command, event and message type by the name the files use, with a Go
// value its `with:` payload is decoded into (unknown fields refused), so
// that a misspelt field fails at its line and column instead of sending a
// zero value. A system offers one through Speaker.
type Vocabulary struct {
	types map[Kind]map[string]func() any
	setup func() any
}

// Register adds type name of kind k; newValue returns a pointer to decode
// a payload into. A name registered twice for one kind keeps the last.
func (v *Vocabulary) Register(k Kind, name string, newValue func() any) *Vocabulary {
	if v.types == nil {
		v.types = map[Kind]map[string]func() any{}
	}
	if v.types[k] == nil {
		v.types[k] = map[string]func() any{}
	}
	v.types[k][name] = newValue
	return v
}

// Define registers T under name for kind k: Define[PlaceOrder](v,
// KindCommand, "PlaceOrder").
func Define[T any](v *Vocabulary, k Kind, name string) *Vocabulary {
	return v.Register(k, name, func() any { return new(T) })
}

// Setup registers the type of a file's `setup:` section: the system's own
// test configuration (stock on hand, customers the gateway declines),
// decoded into T and handed to Configurable.Configure.
func Setup[T any](v *Vocabulary) *Vocabulary {
	v.setup = func() any { return new(T) }
	return v
}

// Types returns the names registered for kind k, sorted: what a tool that
// writes or checks files (edload new scenario) may offer.
func (v *Vocabulary) Types(k Kind) []string {
	names := make([]string, 0, len(v.types[k]))
	for n := range v.types[k] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns a fresh value of type name of kind k, the pointer a payload
// is decoded into; ok is false when the system registers no such type.
func (v *Vocabulary) New(k Kind, name string) (value any, ok bool) {
	f, ok := v.types[k][name]
	if !ok {
		return nil, false
	}
	return f(), true
}

// NewSetup returns a fresh value of the `setup:` section's type; ok is
// false when the system takes no setup.
func (v *Vocabulary) NewSetup() (value any, ok bool) {
	if v.setup == nil {
		return nil, false
	}
	return v.setup(), true
}

// lookup returns a fresh value for name, or an error listing what kind k has.
func (v *Vocabulary) lookup(k Kind, name string) (any, error) {
	if val, ok := v.New(k, name); ok {
		return val, nil
	}
	return nil, fmt.Errorf("unknown %s type %q (the system registers: %v)", k, name, v.Types(k))
}

// Speaker is a harness.System whose scenario files edkit can run.
type Speaker interface {
	harness.System
	Vocabulary() *Vocabulary
}

// Configurable is a Speaker whose files have a `setup:` section: Configure
// returns the system configured by it (setup is the pointer Setup
// registered, decoded).
type Configurable interface {
	Configure(setup any) (harness.System, error)
}

// Dispatcher is an instance that takes commands: the `command:` steps.
// id is the command's idempotency ID; a step with `times: 2` sends the
// same id twice.
type Dispatcher interface {
	Dispatch(ctx context.Context, id string, cmd any) error
}

// EventStorer is an instance with an event store: `event:` steps append
// to it, and `events:`/`event:` expectations read it.
type EventStorer interface {
	EventStore() eventstore.Store
}

// Viewer is an instance with read models: `view:` expectations read one
// row by model name and ID (ok false when there is none). The row is
// compared as JSON.
type Viewer interface {
	View(ctx context.Context, name, id string) (row any, ok bool, err error)
}

// Deadlines is an instance with timers on the run's clock (Env.Clock): on
// virtual time an `elapse:` step jumps from one pending deadline to the
// next, letting the system settle after each, instead of waiting.
type Deadlines interface {
	NextDeadline() (at time.Time, ok bool)
}
