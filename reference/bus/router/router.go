package router

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Option configures a Router.
type Option func(*Router)

// WithMiddleware adds router-wide middleware, outside every route's own:
// the first listed is the outermost, as in bus.Chain.
func WithMiddleware(mws ...bus.Middleware) Option {
	return func(r *Router) { r.mws = append(r.mws, mws...) }
}

// WithConsumeOptions passes options (bus.Concurrency, bus.OnSettleError) to
// every topic's bus.Consume.
func WithConsumeOptions(opts ...bus.ConsumeOption) Option {
	return func(r *Router) { r.consume = append(r.consume, opts...) }
}

// Router consumes several topics for one consumer group and dispatches each
// message to its topic's handler. Each route runs its own bus.Consume over
// its own subscription, so a message can only reach the handler registered
// for the topic it was consumed from: there is no unknown-topic case to
// handle.
type Router struct {
	sub     bus.Subscriber
	group   string
	mws     []bus.Middleware
	consume []bus.ConsumeOption

	mu      sync.Mutex
	started bool
	routes  []route
}

type route struct {
	topic string
	h     bus.Handler
}

// New returns a Router consuming for group from sub.
func New(sub bus.Subscriber, group string, opts ...Option) *Router {
	r := &Router{sub: sub, group: group}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Group is the consumer group the router consumes for.
func (r *Router) Group() string { return r.group }

// Use adds router-wide middleware, inside any given to New and outside
// every route's own. It fails with ErrStarted once Run has begun.
func (r *Router) Use(mws ...bus.Middleware) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return ErrStarted
	}
	r.mws = append(r.mws, mws...)
	return nil
}

// Handle routes topic to h, wrapped in mws (the first listed outermost)
// inside the router-wide middleware. It fails with ErrDuplicateRoute when
// topic already has a handler and ErrStarted once Run has begun.
func (r *Router) Handle(topic string, h bus.Handler, mws ...bus.Middleware) error {
	if topic == "" {
		return errors.New("router: empty topic")
	}
	if h == nil {
		return fmt.Errorf("router: topic %s: nil handler", topic)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return fmt.Errorf("route %s: %w", topic, ErrStarted)
	}
	for _, rt := range r.routes {
		if rt.topic == topic {
			return fmt.Errorf("route %s: %w", topic, ErrDuplicateRoute)
		}
	}
	r.routes = append(r.routes, route{topic: topic, h: bus.Chain(h, mws...)})
	return nil
}

// Topics lists the routed topics in registration order.
func (r *Router) Topics() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.routes))
	for i, rt := range r.routes {
		out[i] = rt.topic
	}
	return out
}

// Run consumes every routed topic until ctx is done, then returns nil once
// every consumer has stopped. If one topic's consumer fails first (its
// subscribe fails or its subscription ends), Run stops the others and
// returns that error, naming the topic. A Router runs once: a second Run
// returns ErrStarted.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return ErrStarted
	}
	if len(r.routes) == 0 {
		r.mu.Unlock()
		return ErrNoRoutes
	}
	r.started = true
	routes := append([]route(nil), r.routes...)
	mws := append([]bus.Middleware(nil), r.mws...)
	r.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for _, rt := range routes {
		h := bus.Chain(rt.h, mws...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := bus.Consume(ctx, r.sub, rt.topic, r.group, h, r.consume...)
			// A consumer stopped by a sibling's failure returns nil, so
			// only the real first failure is kept.
			if err != nil {
				once.Do(func() {
					firstErr = fmt.Errorf("router: consume %s for %s: %w", rt.topic, r.group, err)
					cancel()
				})
			}
		}()
	}
	wg.Wait()
	return firstErr
}
