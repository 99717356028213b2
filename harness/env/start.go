package env

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StartOption configures Start.
type StartOption func(*startConfig)

type startConfig struct {
	providers map[ProviderName]Provider
	observe   func(name string, took time.Duration)
}

// WithProvider makes p available to the spec. Providers are wired
// explicitly by the caller — there is no global registry — so a test gets
// exactly the providers it asked for.
func WithProvider(p Provider) StartOption {
	return func(c *startConfig) { c.providers[p.Name()] = p }
}

// OnReady is called once per component with how long it took to be ready,
// for verbose output and start-up measurements.
func OnReady(f func(name string, took time.Duration)) StartOption {
	return func(c *startConfig) { c.observe = f }
}

// Start starts every component of spec concurrently and returns once all
// are ready. A spec Check refuses starts nothing (the error wraps
// ErrBadSpec). If any component fails, the ones already started are closed
// and the error (wrapping ErrStart) names each failure.
func Start(ctx context.Context, spec Spec, opts ...StartOption) (*Environment, error) {
	cfg := startConfig{providers: map[ProviderName]Provider{}}
	for _, o := range opts {
		o(&cfg)
	}
	if err := check(spec, cfg); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()

	comps := make([]Component, len(spec.Components))
	startErrs := make([]error, len(spec.Components))
	var wg sync.WaitGroup
	for i, c := range spec.Components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			prov := cfg.providers[c.Provider]
			comp, err := startRetryingPorts(ctx, prov, c)
			if err == nil && c.Proxied {
				if fp, ok := prov.(FrontingProvider); !ok || !fp.FrontsProxied(c.Kind) {
					var fronted Component
					if fronted, err = front(ctx, comp, c); err != nil {
						err = errors.Join(err, comp.Close(ctx))
					} else {
						comp = fronted
					}
				}
			}
			if err != nil {
				startErrs[i] = fmt.Errorf("%w: %s (%s, %s): %w", ErrStart, c.Name, c.Kind, c.Provider, err)
				return
			}
			comps[i] = comp
			if cfg.observe != nil {
				cfg.observe(c.Name, time.Since(began))
			}
		}()
	}
	wg.Wait()
	e := &Environment{byName: map[string]Component{}}
	for i, comp := range comps {
		if comp != nil {
			e.add(spec.Components[i].Name, comp)
		}
	}
	if err := errors.Join(startErrs...); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

// portAttempts bounds how often a component is started again after losing
// its port. Providers pick a free port and then bind it; between the two
// another process (a parallel test binary) can take it, and the only cure
// for that race is to pick again.
const portAttempts = 4

func startRetryingPorts(ctx context.Context, p Provider, c ComponentSpec) (Component, error) {
	var err error
	for range portAttempts {
		var comp Component
		comp, err = p.Start(ctx, c)
		if err == nil || !portTaken(err) || ctx.Err() != nil {
			return comp, err
		}
	}
	return nil, err
}

// portTaken recognises a bind that lost its port, whether the error came
// from this process (EADDRINUSE) or from a server's log quoted in it.
func portTaken(err error) bool {
	msg := strings.ToLower(err.Error())
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(msg, "address already in use") ||
		strings.Contains(msg, "eaddrinuse")
}
