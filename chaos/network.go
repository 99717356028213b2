package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/netfault"
)

// The network faults act on the proxies in front of a component (a spec's
// proxied: true, or a broker of a run with Broker.Proxied): between the
// system and its broker, on any provider. Healing clears the toxics.

// Latency delays every reply from c by d, give or take jitter.
func Latency(c env.Component, d, jitter time.Duration) (Fault, error) {
	return toxic(c, fmt.Sprintf("latency %s±%s", d, jitter), func(p *netfault.Proxy) error { return p.Latency(d, jitter) })
}

// Bandwidth limits what c sends back to kbps kilobytes per second.
func Bandwidth(c env.Component, kbps int) (Fault, error) {
	return toxic(c, fmt.Sprintf("bandwidth %dKB/s", kbps), func(p *netfault.Proxy) error { return p.Bandwidth(kbps) })
}

// ResetPeer resets every connection to c as soon as a client sends on it.
func ResetPeer(c env.Component) (Fault, error) {
	return toxic(c, "reset-peer", (*netfault.Proxy).ResetPeer)
}

// Timeout stops everything reaching c, closing connections after d (0:
// they just stall).
func Timeout(c env.Component, d time.Duration) (Fault, error) {
	return toxic(c, fmt.Sprintf("timeout %s", d), func(p *netfault.Proxy) error { return p.Timeout(d) })
}

// OneWay is a one-way partition: requests reach c and it acts on them, its
// replies are lost — the broker stored the message, the producer never
// heard, and retries it.
func OneWay(c env.Component) (Fault, error) {
	return toxic(c, "one-way partition", (*netfault.Proxy).DropReplies)
}

// toxic makes a fault that sets one toxic on every proxy in front of c.
func toxic(c env.Component, what string, set func(*netfault.Proxy) error) (Fault, error) {
	f, ok := env.As[env.Fronted](c)
	if !ok || len(f.Fronts()) == 0 {
		return nil, unsupported(what, c)
	}
	fronts := f.Fronts()
	return FaultFunc(what+" "+c.Name(), func(_ context.Context) (Heal, error) {
		heal := func(context.Context) error {
			var errs []error
			for _, p := range fronts {
				errs = append(errs, p.Clear())
			}
			return errors.Join(errs...)
		}
		for _, p := range fronts {
			if err := set(p); err != nil {
				return heal, err
			}
		}
		return heal, nil
	}), nil
}
