package env

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/edkit-dev/edkit/harness/env/netfault"
)

// FrontingProvider is implemented by providers that put network-fault
// proxies in front of their own components when a spec says Proxied. A
// protocol that advertises addresses (Kafka) must be fronted by its
// provider, which can make the broker advertise the proxies; for any other
// provider Start fronts the component's endpoint itself.
type FrontingProvider interface {
	FrontsProxied(kind Kind) bool
}

// Fronted is implemented by components behind netfault proxies, one per
// address, for latency, bandwidth, timeout and reset faults beyond
// Partitioner.
type Fronted interface {
	Fronts() []*netfault.Proxy
}

// Wrapper is implemented by components that wrap another (a proxied
// component wraps the provider's); As sees through it.
type Wrapper interface {
	Unwrap() Component
}

// As finds capability T on c or on a component it wraps, so chaos code
// can ask for a Killer whether or not the broker sits behind a proxy.
func As[T any](c Component) (T, bool) {
	for c != nil {
		if t, ok := c.(T); ok {
			return t, true
		}
		w, ok := c.(Wrapper)
		if !ok {
			break
		}
		c = w.Unwrap()
	}
	var zero T
	return zero, false
}

// proxied is a component behind proxies that Start put there.
type proxied struct {
	Component
	ps     *netfault.Proxies
	fronts []*netfault.Proxy
	ep     Endpoint
}

var (
	_ Partitioner = (*proxied)(nil)
	_ Fronted     = (*proxied)(nil)
	_ Wrapper     = (*proxied)(nil)
)

// front puts one proxy in front of each address of c and rewrites the
// endpoint (addresses and the URL's host) to point at them.
func front(ctx context.Context, c Component, spec ComponentSpec) (Component, error) {
	if spec.Kind == KindKafka {
		return nil, fmt.Errorf("%s: a proxied Kafka must advertise the proxies, which only a provider that fronts it itself can arrange (the embedded provider does)", spec.Name)
	}
	ep := c.Endpoint()
	p := &proxied{Component: c, ps: netfault.New()}
	for i, a := range ep.Addrs {
		px, err := p.ps.Front(ctx, fmt.Sprintf("%s-%d", spec.Name, i), a)
		if err != nil {
			return nil, errors.Join(err, p.ps.Close())
		}
		p.fronts = append(p.fronts, px)
		p.ep.Addrs = append(p.ep.Addrs, px.Addr())
	}
	p.ep.URL = ep.URL
	if ep.URL != "" && len(p.fronts) > 0 {
		u, err := url.Parse(ep.URL)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s: endpoint URL: %w", spec.Name, err), p.ps.Close())
		}
		u.Host = p.fronts[0].Addr()
		p.ep.URL = u.String()
	}
	return p, nil
}

// Endpoint is the proxies' address.
func (p *proxied) Endpoint() Endpoint { return p.ep }

// Unwrap returns the provider's component.
func (p *proxied) Unwrap() Component { return p.Component }

// Fronts returns the proxies, in address order.
func (p *proxied) Fronts() []*netfault.Proxy { return append([]*netfault.Proxy(nil), p.fronts...) }

// Partition cuts every connection through the proxies and refuses new
// ones; the component keeps running.
func (p *proxied) Partition(context.Context) error {
	var errs []error
	for _, f := range p.fronts {
		errs = append(errs, f.Partition())
	}
	return errors.Join(errs...)
}

// Heal lets connections through again.
func (p *proxied) Heal(context.Context) error {
	var errs []error
	for _, f := range p.fronts {
		errs = append(errs, f.Heal())
	}
	return errors.Join(errs...)
}

// Close closes the component, then the proxies.
func (p *proxied) Close(ctx context.Context) error {
	err := p.Component.Close(ctx)
	if errors.Is(err, ErrClosed) {
		return err
	}
	if perr := p.ps.Close(); perr != nil && !errors.Is(perr, netfault.ErrClosed) {
		err = errors.Join(err, perr)
	}
	return err
}
