package router

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Switch is content-based routing: a handler that reads one value from each
// message and passes the message to the handler registered for that value,
// or to the fallback. Use its Handle method as a bus.Handler. Routes are
// registered before the first message; afterwards Route and Fallback fail
// with ErrStarted.
type Switch struct {
	selector string
	read     func(m *bus.Message) (value string, ok bool, err error)

	mu       sync.RWMutex
	started  bool
	routes   map[string]bus.Handler
	fallback bus.Handler
}

// ByHeader routes by the value of header name. A message without the
// header matches no route; it goes to the fallback, if any.
func ByHeader(name string) *Switch {
	return &Switch{
		selector: fmt.Sprintf("header %q", name),
		read: func(m *bus.Message) (string, bool, error) {
			v, ok := m.Headers[name]
			return v, ok, nil
		},
		routes: map[string]bus.Handler{},
	}
}

// ByField routes by a field of the JSON payload, named by a dotted path:
// "order.kind" reads {"order":{"kind":…}}; a numeric segment indexes an
// array ("items.0.sku"). A string field routes by its text; any other value
// by its compact JSON text (42, true, null, {"a":1}). A missing field matches
// no route and goes to the fallback, if any. A payload that is not JSON is a
// permanent error wrapping ErrNotJSON, fallback or not: no route can make
// sense of it, so it should dead-letter where someone will look at it.
func ByField(path string) *Switch {
	segs := strings.Split(path, ".")
	return &Switch{
		selector: fmt.Sprintf("field %q", path),
		read:     func(m *bus.Message) (string, bool, error) { return jsonField(m.Payload, segs) },
		routes:   map[string]bus.Handler{},
	}
}

// Route sends messages whose value is value to h. It fails with
// ErrDuplicateRoute when value already has a handler.
func (s *Switch) Route(value string, h bus.Handler) error {
	if h == nil {
		return fmt.Errorf("router: %s = %q: nil handler", s.selector, value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("route %s = %q: %w", s.selector, value, ErrStarted)
	}
	if _, ok := s.routes[value]; ok {
		return fmt.Errorf("route %s = %q: %w", s.selector, value, ErrDuplicateRoute)
	}
	s.routes[value] = h
	return nil
}

// Fallback handles messages no route matches, including those without the
// header or field. Without one, such a message fails permanently with a
// *NoRouteError.
func (s *Switch) Fallback(h bus.Handler) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("fallback for %s: %w", s.selector, ErrStarted)
	}
	s.fallback = h
	return nil
}

// Handle is the bus.Handler: it dispatches m by its value.
func (s *Switch) Handle(ctx context.Context, m *bus.Message) error {
	h, err := s.pick(m)
	if err != nil {
		return err
	}
	return h(ctx, m)
}

func (s *Switch) pick(m *bus.Message) (bus.Handler, error) {
	v, ok, err := s.read(m)
	if err != nil {
		return nil, bus.Permanent(fmt.Errorf("%s of message %s: %w", s.selector, m.ID, err))
	}
	s.mu.RLock()
	started := s.started
	h, found := s.routes[v]
	fb := s.fallback
	s.mu.RUnlock()
	if !started {
		s.mu.Lock()
		s.started = true
		s.mu.Unlock()
	}
	switch {
	case ok && found:
		return h, nil
	case fb != nil:
		return fb, nil
	default:
		return nil, bus.Permanent(&NoRouteError{Selector: s.selector, Value: v, Absent: !ok})
	}
}

// jsonField reads the value at path segs in payload.
func jsonField(payload []byte, segs []string) (string, bool, error) {
	// Valid first: Decode alone would accept a value followed by garbage.
	if !json.Valid(payload) {
		return "", false, ErrNotJSON
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // keep 10 as "10", not "1e+01"
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false, fmt.Errorf("%w: %w", ErrNotJSON, err)
	}
	for _, seg := range segs {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[seg]
			if !ok {
				return "", false, nil
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return "", false, nil
			}
			v = c[i]
		default:
			return "", false, nil
		}
	}
	if s, ok := v.(string); ok {
		return s, true, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false, fmt.Errorf("%w: %w", ErrNotJSON, err)
	}
	return string(b), true, nil
}
