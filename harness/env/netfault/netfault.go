package netfault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Proxies owns an in-process Toxiproxy server and the proxies made with
// Front. It is safe for concurrent use.
type Proxies struct {
	srv *toxiproxy.ApiServer

	mu      sync.Mutex
	closed  bool
	proxies map[string]*Proxy
}

// New returns an empty set of proxies. Close it to stop every proxy.
func New() *Proxies {
	return &Proxies{
		srv:     toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		proxies: map[string]*Proxy{},
	}
}

// Front starts a proxy named name on a free 127.0.0.1 port that forwards
// every connection to upstream (host:port). It returns once the proxy
// accepts connections.
func (ps *Proxies) Front(ctx context.Context, name, upstream string) (*Proxy, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, ErrClosed
	}
	if _, ok := ps.proxies[name]; ok {
		return nil, fmt.Errorf("%w: %q", ErrDuplicate, name)
	}
	tp := toxiproxy.NewProxy(ps.srv, name, "127.0.0.1:0", upstream)
	if err := ps.srv.Collection.Add(tp, true); err != nil {
		return nil, fmt.Errorf("netfault: front %s: %w", upstream, err)
	}
	tp.Lock()
	addr := tp.Listen // the bound address, set by Start
	tp.Unlock()
	p := &Proxy{ps: ps, tp: tp, name: name, addr: addr, upstream: upstream}
	ps.proxies[name] = p
	return p, nil
}

// Close stops every proxy, cutting their connections. Later calls return
// ErrClosed.
func (ps *Proxies) Close() error {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return ErrClosed
	}
	ps.closed = true
	all := ps.proxies
	ps.proxies = nil
	ps.mu.Unlock()
	var errs []error
	for _, p := range all {
		if err := p.close(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (ps *Proxies) forget(name string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.proxies, name)
}

// Proxy forwards one listening address to one upstream and applies the
// faults set on it. Toxics (Latency, Bandwidth, Timeout, ResetPeer) apply to
// open and new connections until Clear; setting the same kind again
// replaces it.
type Proxy struct {
	ps       *Proxies
	tp       *toxiproxy.Proxy
	name     string
	addr     string
	upstream string

	mu          sync.Mutex
	closed      bool
	partitioned bool
}

// Addr is the host:port clients must dial instead of the upstream.
func (p *Proxy) Addr() string { return p.addr }

// Upstream is the address the proxy forwards to.
func (p *Proxy) Upstream() string { return p.upstream }

// Name is the proxy's name in its Proxies.
func (p *Proxy) Name() string { return p.name }

// Latency delays data flowing back to the client (the downstream
// direction) by d, plus or minus up to jitter, so every request/response
// round trip takes at least d longer.
func (p *Proxy) Latency(d, jitter time.Duration) error {
	return p.set("latency", "downstream", map[string]int64{"latency": d.Milliseconds(), "jitter": jitter.Milliseconds()})
}

// Bandwidth limits data flowing back to the client to kbps kilobytes per
// second.
func (p *Proxy) Bandwidth(kbps int) error {
	return p.set("bandwidth", "downstream", map[string]int64{"rate": int64(kbps)})
}

// Timeout stops all data from reaching the upstream; after d the
// connection is closed (d == 0: never — requests just stall).
func (p *Proxy) Timeout(d time.Duration) error {
	return p.set("timeout", "upstream", map[string]int64{"timeout": d.Milliseconds()})
}

// DropReplies discards everything the upstream sends back while requests
// still reach it: the server acts on each request and its reply is lost
// in flight, as when a connection dies between the two. Connections stay
// open (use Partition to cut them) until Clear.
func (p *Proxy) DropReplies() error {
	return p.set("timeout", "downstream", map[string]int64{"timeout": 0})
}

// ResetPeer resets (TCP RST) every connection as soon as the client sends
// data on it, simulating a peer that crashes mid-conversation.
func (p *Proxy) ResetPeer() error {
	return p.set("reset_peer", "upstream", map[string]int64{"timeout": 0})
}

// set adds (or replaces) the toxic of kind on stream.
func (p *Proxy) set(kind, stream string, attrs map[string]int64) error {
	if err := p.live(); err != nil {
		return err
	}
	name := kind + "_" + stream
	body, err := json.Marshal(map[string]any{"name": name, "type": kind, "stream": stream, "toxicity": 1.0, "attributes": attrs})
	if err != nil {
		return fmt.Errorf("netfault: %s: %w", kind, err)
	}
	if p.tp.Toxics.GetToxic(name) != nil {
		if err := p.tp.Toxics.RemoveToxic(context.Background(), name); err != nil {
			return fmt.Errorf("netfault: replace %s: %w", kind, err)
		}
	}
	if _, err := p.tp.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		return fmt.Errorf("netfault: %s: %w", kind, err)
	}
	return nil
}

// Clear removes every toxic. It does not heal a partition.
func (p *Proxy) Clear() error {
	if err := p.live(); err != nil {
		return err
	}
	p.tp.Toxics.ResetToxics(context.Background())
	return nil
}

// Partition cuts every open connection and refuses new ones (the listening
// port is closed) until Heal.
func (p *Proxy) Partition() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.tp.Stop()
	p.partitioned = true
	return nil
}

// Heal listens again on the same address and forwards new connections.
// Healing a proxy that is not partitioned does nothing.
func (p *Proxy) Heal() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if !p.partitioned {
		return nil
	}
	if err := p.tp.Start(); err != nil {
		return fmt.Errorf("netfault: heal %s: %w", p.addr, err)
	}
	p.partitioned = false
	return nil
}

// Close stops the proxy for good and forgets it. Later calls return
// ErrClosed.
func (p *Proxy) Close() error {
	err := p.close()
	if err == nil {
		p.ps.forget(p.name)
	}
	return err
}

func (p *Proxy) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	if err := p.ps.srv.Collection.Remove(p.name); err != nil {
		// Remove stops the proxy; if the collection lost it, stop it here.
		p.tp.Stop()
	}
	return nil
}

func (p *Proxy) live() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	return nil
}
