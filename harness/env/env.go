package env

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Environment is a set of started components. Close stops them all.
type Environment struct {
	mu     sync.Mutex
	closed bool
	comps  []Component // in start order; closed in reverse
	byName map[string]Component
}

func (e *Environment) add(name string, c Component) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byName == nil {
		e.byName = map[string]Component{}
	}
	e.comps = append(e.comps, c)
	e.byName[name] = c
}

// Component returns the named component, or nil.
func (e *Environment) Component(name string) Component {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byName[name]
}

// Components returns every component, in spec order.
func (e *Environment) Components() []Component {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Component(nil), e.comps...)
}

// Close stops every component the environment started, in reverse start
// order, and joins their errors. Later calls return ErrClosed.
func (e *Environment) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	e.closed = true
	comps := e.comps
	e.comps = nil
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	for i := len(comps) - 1; i >= 0; i-- {
		if err := comps[i].Close(ctx); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, fmt.Errorf("close %s: %w", comps[i].Name(), err))
		}
	}
	return errors.Join(errs...)
}
