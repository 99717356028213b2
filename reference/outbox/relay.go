package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// DefaultTopic is where the default route publishes every event.
const DefaultTopic = "events"

// Route decides where an event is published: its topic and its key. An
// empty topic keeps the event in the store only (a saga's private state,
// say); the relay still moves past it.
type Route func(e event.Envelope) (topic, key string)

// DefaultKey is the key the default route gives an event: its correlation
// ID, so everything caused by one command lands on one partition in order,
// or its stream when it has none.
func DefaultKey(e event.Envelope) string {
	if k := e.Metadata[event.MetaCorrelationID]; k != "" {
		return k
	}
	return e.Stream
}

// Message encodes a stored event as a bus message: the message ID is the
// event ID (so consumers' inboxes recognise a republished event), the
// payload the whole envelope as JSON (so consumers see stream, version and
// position), and the type header the event type.
func Message(e event.Envelope, topic, key string) (*bus.Message, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("outbox: encode event %s: %w", e.ID, err)
	}
	return &bus.Message{ID: e.ID, Topic: topic, Key: key, Payload: b,
		Headers: map[string]string{bus.HeaderType: e.Type}}, nil
}

// Option configures a Relay.
type Option func(*config)

type config struct {
	route    Route
	batch    int
	every    uint64
	interval time.Duration
	clock    bus.Clock
	attempts int
	backoff  func(attempt int) time.Duration
	onError  func(ctx context.Context, err error)

	// saveFirst seeds the bug the package exists to avoid (checkpoint
	// before publish) so the tests can show their checker catches it.
	// Unexported on purpose: no caller can ask for it.
	saveFirst bool
}

// WithRoute sets how events map to topics and keys (default: DefaultTopic,
// DefaultKey).
func WithRoute(r Route) Option {
	return func(c *config) {
		if r != nil {
			c.route = r
		}
	}
}

// WithBatch bounds how many events one Publish carries (default 256). The
// relay never waits to fill a batch: it takes what is already available.
func WithBatch(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.batch = n
		}
	}
}

// WithCheckpointEvery saves the checkpoint once n events (published or
// skipped) have been relayed since the last save (default 1024). It bounds
// the duplicates a crash causes during a burst.
func WithCheckpointEvery(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.every = uint64(n)
		}
	}
}

// WithCheckpointInterval also saves once d has passed on the relay's clock
// since the last save, including while the relay is idle with unsaved
// progress (default 1s; 0 turns the timer off, leaving the count and the
// save on stop).
func WithCheckpointInterval(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.interval = d
		}
	}
}

// WithClock sets the clock for the checkpoint interval and the publish
// backoff, so a scenario can drive both (default: the wall clock).
func WithClock(clk bus.Clock) Option {
	return func(c *config) {
		if clk != nil {
			c.clock = clk
		}
	}
}

// WithRetry retries a failed publish up to attempts attempts in all,
// sleeping backoff(n) on the relay's clock after failed attempt n (default
// 5 attempts, 10ms doubling to 1s). A bus.PermanentError or bus.ErrClosed
// is not retried. When every attempt fails Run returns a *PublishError.
func WithRetry(attempts int, backoff func(attempt int) time.Duration) Option {
	return func(c *config) {
		if attempts > 0 {
			c.attempts = attempts
		}
		c.backoff = backoff
	}
}

// WithErrorHook calls fn with every failed publish attempt (a *PublishError
// carrying the attempt number) and every failed checkpoint save, so they can
// be logged or counted; the relay itself retries or stops as configured.
func WithErrorHook(fn func(ctx context.Context, err error)) Option {
	return func(c *config) { c.onError = fn }
}

// Relay publishes a store's events to a bus; see the package doc.
type Relay struct {
	store eventstore.Store
	pub   bus.Publisher
	cp    Checkpoint
	cfg   config

	running atomic.Bool
	relayed atomic.Uint64
	saved   atomic.Uint64
}

// New returns a relay from store to pub that resumes from cp.
func New(store eventstore.Store, pub bus.Publisher, cp Checkpoint, opts ...Option) (*Relay, error) {
	var errs []error
	if store == nil {
		errs = append(errs, errors.New("outbox: store is required"))
	}
	if pub == nil {
		errs = append(errs, errors.New("outbox: publisher is required"))
	}
	if cp == nil {
		errs = append(errs, errors.New("outbox: checkpoint is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg := config{
		route:    func(e event.Envelope) (string, string) { return DefaultTopic, DefaultKey(e) },
		batch:    256,
		every:    1024,
		interval: time.Second,
		clock:    bus.WallClock,
		attempts: 5,
		backoff:  bus.ExponentialBackoff(10*time.Millisecond, time.Second),
	}
	for _, o := range opts {
		o(&cfg)
	}
	return &Relay{store: store, pub: pub, cp: cp, cfg: cfg}, nil
}

// Relayed is the global position of the last event the relay has moved
// past with a confirmed publish (skipped events included): every event up
// to it is on the bus. Before the first batch it is the loaded checkpoint.
func (r *Relay) Relayed() uint64 { return r.relayed.Load() }

// Checkpointed is the last position saved to the checkpoint.
func (r *Relay) Checkpointed() uint64 { return r.saved.Load() }

// Run loads the checkpoint and relays events from the position after it,
// catching up and then following live appends, until ctx is done (it
// returns nil then, after saving the checkpoint), the store closes (its
// error), or a batch cannot be published (a *PublishError, after saving
// what was confirmed). It returns ErrRunning if the relay is running.
func (r *Relay) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer r.running.Store(false)
	from, err := r.cp.Load(ctx)
	if err != nil {
		return fmt.Errorf("outbox: load checkpoint: %w", err)
	}
	r.relayed.Store(from)
	r.saved.Store(from)

	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := r.store.SubscribeAll(subCtx, from+1)
	if err != nil {
		return fmt.Errorf("outbox: subscribe from %d: %w", from+1, err)
	}
	l := &loop{Relay: r, sub: sub, lastSave: r.cfg.clock.Now(),
		batch: make([]*bus.Message, 0, r.cfg.batch)}
	err = l.run(ctx)
	// Stopping is not crashing: what was confirmed is saved, so a clean
	// restart republishes nothing. The save must outlive ctx.
	l.save(context.WithoutCancel(ctx))
	return err
}

// loop is one Run's state.
type loop struct {
	*Relay
	sub      *eventstore.Subscription
	lastSave time.Time
	batch    []*bus.Message
}

func (l *loop) run(ctx context.Context) error {
	for {
		e, ok := l.next(ctx)
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			if err := l.sub.Err(); err != nil {
				return fmt.Errorf("outbox: subscription: %w", err)
			}
			return nil
		}
		first, last := e.Position, uint64(0)
		l.batch = l.batch[:0]
		for {
			if err := l.add(e); err != nil {
				return err
			}
			last = e.Position
			if len(l.batch) == l.cfg.batch {
				break
			}
			select {
			case e, ok = <-l.sub.C:
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if err := l.publish(ctx, first, last); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if l.relayed.Load()-l.saved.Load() >= l.cfg.every ||
			(l.cfg.interval > 0 && l.cfg.clock.Now().Sub(l.lastSave) >= l.cfg.interval) {
			l.save(ctx)
		}
	}
}

// add routes and encodes one event into the batch (or skips it).
func (l *loop) add(e event.Envelope) error {
	topic, key := l.cfg.route(e)
	if topic == "" {
		return nil
	}
	m, err := Message(e, topic, key)
	if err != nil {
		return err
	}
	l.batch = append(l.batch, m)
	return nil
}

// next returns the next event, waiting for it. While idle with unsaved
// progress it saves the checkpoint when the interval comes due, so a quiet
// period does not leave a long tail to republish after a crash.
func (l *loop) next(ctx context.Context) (event.Envelope, bool) {
	select {
	case e, ok := <-l.sub.C:
		return e, ok
	default:
	}
	if l.cfg.interval > 0 && l.relayed.Load() > l.saved.Load() {
		wait := l.cfg.interval - l.cfg.clock.Now().Sub(l.lastSave)
		if wait <= 0 {
			l.save(ctx)
		} else {
			tctx, cancel := context.WithCancel(ctx)
			due := make(chan struct{})
			go func() {
				if l.cfg.clock.Sleep(tctx, wait) == nil {
					close(due)
				}
			}()
			select {
			case e, ok := <-l.sub.C:
				cancel()
				return e, ok
			case <-due:
				cancel()
				l.save(ctx)
			}
		}
	}
	e, ok := <-l.sub.C
	return e, ok
}

// publish sends the batch (events first..last) with retries, then marks it
// relayed. With saveFirst (the seeded bug) it checkpoints before sending.
func (l *loop) publish(ctx context.Context, first, last uint64) error {
	if l.cfg.saveFirst {
		l.relayed.Store(last)
		l.save(ctx)
	}
	for attempt := 1; len(l.batch) > 0; attempt++ {
		err := l.pub.Publish(ctx, l.batch...)
		if err == nil {
			break
		}
		perr := &PublishError{From: first, To: last, Attempts: attempt, Err: err}
		if ctx.Err() != nil {
			return perr
		}
		l.hook(ctx, perr)
		var permanent *bus.PermanentError
		if attempt >= l.cfg.attempts || errors.As(err, &permanent) || errors.Is(err, bus.ErrClosed) {
			return perr
		}
		if l.cfg.backoff != nil {
			if err := l.cfg.clock.Sleep(ctx, l.cfg.backoff(attempt)); err != nil {
				return perr
			}
		}
	}
	l.relayed.Store(last)
	return nil
}

// save checkpoints the relayed position if it moved. A failed save is
// reported and retried at the next occasion: it costs duplicates after a
// crash, never loss, so it does not stop the relay.
func (l *loop) save(ctx context.Context) {
	pos := l.relayed.Load()
	if pos == l.saved.Load() {
		return
	}
	if err := l.cp.Save(ctx, pos); err != nil {
		l.hook(ctx, fmt.Errorf("outbox: save checkpoint %d: %w", pos, err))
		return
	}
	l.saved.Store(pos)
	l.lastSave = l.cfg.clock.Now()
}

func (l *loop) hook(ctx context.Context, err error) {
	if l.cfg.onError != nil {
		l.cfg.onError(ctx, err)
	}
}
