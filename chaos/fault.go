package chaos

import (
	"context"
	"errors"
	"fmt"

	"github.com/edkit-dev/edkit/harness/env"
)

// Fault is one way to break something for a while. Inject breaks it and
// returns the Heal that undoes it; a fault is a value, so a schedule can
// hold it, a journal can name it and a shrinker can drop it.
type Fault interface {
	// Name says what the fault does to what, for the journal and the
	// timeline: "pause kafka", "kill redis".
	Name() string
	// Inject breaks the target. On error nothing is left broken (or the
	// returned Heal, when not nil, undoes what was).
	Inject(ctx context.Context) (Heal, error)
}

// Heal undoes one injected fault. It must be safe to call once after
// Inject succeeded, whatever happened in between.
type Heal func(ctx context.Context) error

// ErrUnsupported is a fault asked of a component that lacks the
// capability (a process provider cannot partition, an external broker
// cannot be killed).
var ErrUnsupported = errors.New("chaos: the component does not support this fault")

// FaultFunc makes a Fault of a name and an inject function.
func FaultFunc(name string, inject func(ctx context.Context) (Heal, error)) Fault {
	return funcFault{name: name, inject: inject}
}

type funcFault struct {
	name   string
	inject func(ctx context.Context) (Heal, error)
}

func (f funcFault) Name() string                             { return f.name }
func (f funcFault) Inject(ctx context.Context) (Heal, error) { return f.inject(ctx) }

// Pause freezes component c (SIGSTOP, docker pause) until healed:
// connections stay open and requests hang, the way a GC pause or an
// overloaded broker looks to its clients.
func Pause(c env.Component) (Fault, error) {
	p, ok := env.As[env.Pauser](c)
	if !ok {
		return nil, unsupported("pause", c)
	}
	return FaultFunc("pause "+c.Name(), func(ctx context.Context) (Heal, error) {
		if err := p.Pause(ctx); err != nil {
			return nil, err
		}
		return p.Resume, nil
	}), nil
}

// Kill kills component c with no grace (SIGKILL, docker kill); healing
// restarts it at the same address with its data.
func Kill(c env.Component) (Fault, error) {
	k, ok := env.As[env.Killer](c)
	r, ok2 := env.As[env.Restarter](c)
	if !ok || !ok2 {
		return nil, unsupported("kill", c)
	}
	return FaultFunc("kill "+c.Name(), func(ctx context.Context) (Heal, error) {
		if err := k.Kill(ctx); err != nil {
			return nil, err
		}
		return r.Restart, nil
	}), nil
}

// Stop stops component c gracefully; healing restarts it.
func Stop(c env.Component) (Fault, error) {
	s, ok := env.As[env.Stopper](c)
	r, ok2 := env.As[env.Restarter](c)
	if !ok || !ok2 {
		return nil, unsupported("stop", c)
	}
	return FaultFunc("stop "+c.Name(), func(ctx context.Context) (Heal, error) {
		if err := s.Stop(ctx); err != nil {
			return nil, err
		}
		return r.Restart, nil
	}), nil
}

// Partition cuts component c off from its clients (through the proxies
// in front of it) until healed.
func Partition(c env.Component) (Fault, error) {
	p, ok := env.As[env.Partitioner](c)
	if !ok {
		return nil, unsupported("partition", c)
	}
	return FaultFunc("partition "+c.Name(), func(ctx context.Context) (Heal, error) {
		if err := p.Partition(ctx); err != nil {
			return nil, err
		}
		return p.Heal, nil
	}), nil
}

func unsupported(what string, c env.Component) error {
	return fmt.Errorf("%w: %s %s (%s, %s)", ErrUnsupported, what, c.Name(), c.Kind(), c.Provider())
}
