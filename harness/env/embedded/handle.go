package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/netfault"
)

// runner runs one broker instance at fixed addresses and data paths; start
// may be called again after stop or kill.
type runner interface {
	start(ctx context.Context) error
	// stop shuts the broker down gracefully.
	stop(ctx context.Context) error
	// kill stops it with no grace where the runner can (a child process);
	// in-process runners stop.
	kill(ctx context.Context) error
}

// handle is what every embedded component shares: identity, endpoint,
// lifecycle state and the resources Close removes.
type handle struct {
	name     string
	kind     env.Kind
	endpoint env.Endpoint
	run      runner
	dir      string            // temp dir holding data; removed by Close
	proxies  *netfault.Proxies // nil unless Proxied
	restart  func() error      // prepares a restart (wipes non-durable data)
	fronts   []*netfault.Proxy // in broker order

	mu      sync.Mutex
	running bool
	closed  bool
}

func (h *handle) Name() string               { return h.name }
func (h *handle) Kind() env.Kind             { return h.kind }
func (h *handle) Provider() env.ProviderName { return env.Embedded }

// Endpoint is where clients connect: the proxies when Proxied, the brokers
// otherwise. It stays the same across restarts.
func (h *handle) Endpoint() env.Endpoint {
	e := h.endpoint
	e.Addrs = append([]string(nil), e.Addrs...)
	return e
}

// Stop shuts the broker down gracefully, keeping its data for Restart.
func (h *handle) Stop(ctx context.Context) error {
	return h.halt(ctx, h.run.stop)
}

// Kill stops the broker with no grace. In child mode that is SIGKILL; an
// in-process broker cannot be killed without killing this process, so
// there Kill is the same as Stop (use "mode": "child" for a true crash).
func (h *handle) Kill(ctx context.Context) error {
	return h.halt(ctx, h.run.kill)
}

func (h *handle) halt(ctx context.Context, f func(context.Context) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return env.ErrClosed
	}
	if !h.running {
		return ErrNotRunning
	}
	h.running = false
	return f(ctx)
}

// Restart starts the broker again at the same addresses with the same data
// dir (stopping it first if it runs). With a Durable spec, everything it
// acknowledged before is still there; without, it comes back empty.
func (h *handle) Restart(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return env.ErrClosed
	}
	if h.running {
		if err := h.run.stop(ctx); err != nil {
			return fmt.Errorf("embedded: restart %s: stop: %w", h.name, err)
		}
		h.running = false
	}
	if h.restart != nil {
		if err := h.restart(); err != nil {
			return fmt.Errorf("embedded: restart %s: %w", h.name, err)
		}
	}
	if err := h.run.start(ctx); err != nil {
		return fmt.Errorf("embedded: restart %s: %w", h.name, err)
	}
	h.running = true
	return nil
}

// Close stops the broker and its proxies and removes its temp dir. Later
// calls return env.ErrClosed.
func (h *handle) Close(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return env.ErrClosed
	}
	h.closed = true
	var errs []error
	if h.running {
		h.running = false
		if err := h.run.stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if h.proxies != nil {
		if err := h.proxies.Close(); err != nil && !errors.Is(err, netfault.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if h.dir != "" {
		if err := os.RemoveAll(h.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// InProcess is a broker running inside this process: Stopper, Killer (same
// as Stop) and Restarter.
type InProcess struct{ *handle }

// Child is a broker running as an edkit-broker child process: Stopper,
// Killer (SIGKILL), Restarter, Pauser (SIGSTOP/SIGCONT) and LogSource.
type Child struct {
	*handle
	child *childRunner
}

// Fronted is implemented by proxied handles: the netfault proxies in front
// of the broker, one per listener, for latency, bandwidth and reset faults
// beyond the Partitioner interface.
type Fronted = env.Fronted

// fronts gives a proxied handle Partition, Heal and Fronts.
type fronts struct{ ps []*netfault.Proxy }

// Partition cuts every client connection through the proxies and refuses
// new ones, while the broker itself keeps running.
func (f *fronts) Partition(context.Context) error {
	var errs []error
	for _, p := range f.ps {
		errs = append(errs, p.Partition())
	}
	return errors.Join(errs...)
}

// Heal makes the proxies accept and forward connections again.
func (f *fronts) Heal(context.Context) error {
	var errs []error
	for _, p := range f.ps {
		errs = append(errs, p.Heal())
	}
	return errors.Join(errs...)
}

// Fronts returns the proxies, in broker order.
func (f *fronts) Fronts() []*netfault.Proxy { return append([]*netfault.Proxy(nil), f.ps...) }

// ProxiedInProcess is an InProcess broker behind netfault proxies; it also
// implements env.Partitioner and Fronted.
type ProxiedInProcess struct {
	*InProcess
	*fronts
}

// ProxiedChild is a Child broker behind netfault proxies; it also
// implements env.Partitioner and Fronted.
type ProxiedChild struct {
	*Child
	*fronts
}

var (
	_ env.Stopper     = (*InProcess)(nil)
	_ env.Killer      = (*InProcess)(nil)
	_ env.Restarter   = (*InProcess)(nil)
	_ env.Pauser      = (*Child)(nil)
	_ env.LogSource   = (*Child)(nil)
	_ env.Partitioner = ProxiedInProcess{}
	_ env.Partitioner = ProxiedChild{}
	_ Fronted         = ProxiedChild{}
	_ env.Component   = ProxiedInProcess{}
	_ env.Component   = (*Child)(nil)
)
