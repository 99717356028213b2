// Package external is the provider for components edkit does not run:
// staging clusters, a developer's own broker. It hands out the configured
// addresses after checking that something answers there, and its handles
// have no fault capabilities — edkit never stops, kills or pauses what it
// did not start.
package external

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
)

// Provider returns handles to components that already run elsewhere.
type Provider struct {
	dialTimeout time.Duration
	allow       []string
}

var _ env.Provider = (*Provider)(nil)

// Option configures the provider.
type Option func(*Provider)

// DialTimeout bounds the reachability check (default 5 s).
func DialTimeout(d time.Duration) Option { return func(p *Provider) { p.dialTimeout = d } }

// Allow lets the provider reach the given hosts (a host, host:port or
// CIDR each) besides loopback addresses; see env.CheckTarget.
func Allow(hosts ...string) Option {
	return func(p *Provider) { p.allow = append(p.allow, hosts...) }
}

// New returns the external provider.
func New(opts ...Option) *Provider {
	p := &Provider{dialTimeout: 5 * time.Second}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Name is env.External.
func (*Provider) Name() env.ProviderName { return env.External }

// Supports every kind: the component is someone else's.
func (*Provider) Supports(env.Kind) error { return nil }

// Start checks that every address is one it may reach (loopback, or
// allowed: env.CheckTarget) and accepts a TCP connection, and returns a
// handle to it. It does not speak the protocol: credentials and TLS belong
// to the client that will use the endpoint.
func (p *Provider) Start(ctx context.Context, spec env.ComponentSpec) (env.Component, error) {
	if err := p.CheckSpec(spec); err != nil {
		return nil, fmt.Errorf("external: %s: %w", spec.Name, err)
	}
	addrs := targets(spec)
	d := net.Dialer{Timeout: p.dialTimeout}
	var errs []error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_ = c.Close() // only reachability was asked
	}
	if len(errs) == len(addrs) {
		return nil, fmt.Errorf("external: %s: no address answers: %w", spec.Name, errors.Join(errs...))
	}
	return &component{spec: spec, ep: env.Endpoint{Addrs: addrs, URL: spec.URL}}, nil
}

// targets are the addresses spec names: addrs, or the host of url.
func targets(spec env.ComponentSpec) []string {
	if len(spec.Addrs) > 0 || spec.URL == "" {
		return append([]string(nil), spec.Addrs...)
	}
	if u, err := url.Parse(spec.URL); err == nil && u.Host != "" {
		return []string{u.Host}
	}
	return nil
}

// CheckSpec checks, without connecting, that spec names addresses (addrs,
// or a url with a host), each one the provider may reach (loopback, or
// allowed: env.CheckTarget), and no options, which it would ignore.
func (p *Provider) CheckSpec(spec env.ComponentSpec) error {
	var errs []error
	field := "addrs"
	if len(spec.Addrs) == 0 {
		field = "url"
	}
	addrs := targets(spec)
	if len(addrs) == 0 {
		errs = append(errs, &env.FieldError{Field: field, Err: errors.New("no addrs, or a url without a host")})
	}
	for _, a := range addrs {
		if err := env.CheckTarget(a, p.allow); err != nil {
			errs = append(errs, &env.FieldError{Field: field, Err: err})
		}
	}
	return errors.Join(append(errs, env.NoOptions(spec))...)
}

var _ env.SpecChecker = (*Provider)(nil)

type component struct {
	spec   env.ComponentSpec
	ep     env.Endpoint
	closed atomic.Bool
}

func (c *component) Name() string               { return c.spec.Name }
func (c *component) Kind() env.Kind             { return c.spec.Kind }
func (c *component) Provider() env.ProviderName { return env.External }
func (c *component) Endpoint() env.Endpoint     { return c.ep }

// Close forgets the component; the component itself keeps running.
func (c *component) Close(context.Context) error {
	if c.closed.Swap(true) {
		return env.ErrClosed
	}
	return nil
}
