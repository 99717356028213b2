package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/cqrs"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/outbox"
	"github.com/edkit-dev/edkit/reference/saga"
	"github.com/edkit-dev/edkit/reference/shop"
)

// Config wires the shop. Store, Bus, Inventory and Gateway are required.
type Config struct {
	Store     eventstore.Store
	Bus       bus.Bus
	Inventory shop.Inventory
	Gateway   shop.PaymentGateway
	// Summaries is the order-summary read model the projection feeds; one is
	// made when nil.
	Summaries *shop.Summaries
	// Dedup switches the command service's inbox on. Without it a
	// redelivered command repeats its side effect (stock, payment).
	Dedup bool
	// Inbox backs Dedup; a memory inbox is made when nil.
	Inbox bus.Inbox
	// MaxAttempts bounds in-process retries before a message is
	// dead-lettered (default 3).
	MaxAttempts int
	// Backoff is the wait before attempt n+1 (default 5ms doubling to 100ms).
	Backoff func(attempt int) time.Duration
	// Clock times retry backoff; the wall clock when nil.
	Clock bus.Clock
	// DeadlineClock is the clock saga deadlines fall due on (Clock when
	// nil). A scenario on virtual time sets it alone, so that a 30-minute
	// payment timeout is jumped over while retry backoff still passes in
	// real time instead of waiting for a clock nobody advances.
	DeadlineClock bus.Clock
	// Wrap, when set, wraps each consumer's handler outermost: the harness
	// uses it to record deliveries and to inject faults.
	Wrap func(group string, h bus.Handler) bus.Handler
	// OnDeadLetter observes every dead-lettered message.
	OnDeadLetter func(ctx context.Context, group string, m *bus.Message, reason string, attempts int)
	// RelayCheckpoint is where the relay that publishes stored events
	// resumes from (the last published global position); an in-memory one
	// starting at 0 when nil. A durable one (outbox.FileCheckpoint) lets a
	// restarted shop republish only what followed it.
	RelayCheckpoint outbox.Checkpoint
	// Concurrency is how many keys each consumer handles at once (default 4).
	Concurrency int
	Logger      *slog.Logger
}

func (c *Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("service: Config.Store is required"))
	}
	if c.Bus == nil {
		errs = append(errs, errors.New("service: Config.Bus is required"))
	}
	if c.Inventory == nil {
		errs = append(errs, errors.New("service: Config.Inventory is required"))
	}
	if c.Gateway == nil {
		errs = append(errs, errors.New("service: Config.Gateway is required"))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("service: MaxAttempts %d < 0", c.MaxAttempts))
	}
	return errors.Join(errs...)
}

// Shop is the reference system in one process: the command service, the
// order-fulfilment saga, the order-summary projection, and the relay that
// publishes stored events to the bus (an outbox over the store's global log).
type Shop struct {
	cfg    Config
	orders *cqrs.Handler[shop.Order, shop.Command]
	sagas  *cqrs.Repository[saga.State]
	relay  *outbox.Relay
	timers *saga.Timers  // the sagas' pending deadlines: deadlines.go
	armed  chan struct{} // a deadline was armed: wakes runDeadlines
}

// New validates cfg and returns a shop ready to Run.
func New(cfg Config) (*Shop, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Summaries == nil {
		cfg.Summaries = shop.NewSummaries()
	}
	if cfg.Inbox == nil {
		cfg.Inbox = bus.NewMemoryInbox()
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Backoff == nil {
		cfg.Backoff = bus.ExponentialBackoff(5*time.Millisecond, 100*time.Millisecond)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RelayCheckpoint == nil {
		cfg.RelayCheckpoint = outbox.NewMemoryCheckpoint()
	}
	// One attempt per batch: a failed publish stops the shop, as before the
	// outbox package, rather than retrying on cfg.Clock, which a scenario
	// may never advance. The checkpoint timer is off for the same reason;
	// the count and the save on stop remain.
	relay, err := outbox.New(cfg.Store, cfg.Bus, cfg.RelayCheckpoint,
		outbox.WithRoute(relayRoute), outbox.WithRetry(1, nil), outbox.WithCheckpointInterval(0))
	if err != nil {
		return nil, err
	}
	return &Shop{
		cfg:    cfg,
		orders: cqrs.NewHandler(cfg.Store, orderDecider),
		sagas:  cqrs.NewRepository(cfg.Store, saga.NewState, evolveSaga),
		relay:  relay,
		timers: saga.NewTimers(),
		armed:  make(chan struct{}, 1),
	}, nil
}

// Summaries is the order-summary read model.
func (s *Shop) Summaries() *shop.Summaries { return s.cfg.Summaries }

// Send publishes a command with the given ID (the idempotency key: sending
// the same ID twice places one order).
func (s *Shop) Send(ctx context.Context, id string, c shop.Command) error {
	m, err := CommandMessage(id, c)
	if err != nil {
		return err
	}
	return s.cfg.Bus.Publish(ctx, m)
}

// CommandMessage encodes a command as a bus message keyed by its order.
func CommandMessage(id string, c shop.Command) (*bus.Message, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("service: encode command: %w", err)
	}
	return &bus.Message{ID: id, Topic: shop.TopicCommands, Key: c.OrderID, Payload: b,
		Headers: map[string]string{bus.HeaderType: c.Type}}, nil
}

// Run starts every part of the shop and blocks until ctx is done or a part
// fails; it returns the first failure (nil on cancellation).
func (s *Shop) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := []struct {
		name string
		run  func(context.Context) error
	}{
		{"relay", s.relay.Run},
		{shop.GroupCommands, s.consumer(shop.TopicCommands, shop.GroupCommands, s.handleCommand, s.cfg.Dedup)},
		{shop.GroupSaga, s.consumer(shop.TopicEvents, shop.GroupSaga, s.handleSagaEvent, false)},
		{shop.GroupProjection, s.consumer(shop.TopicEvents, shop.GroupProjection, s.handleProjectionEvent, false)},
		{"saga deadlines", s.runDeadlines},
	}
	errc := make(chan error, len(parts))
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.run(ctx)
			if err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("service: %s: %w", p.name, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// consumer builds the handler chain for one group:
// wrap → dead-letter → retry → [dedup] → message context → handler.
func (s *Shop) consumer(topic, group string, h bus.Handler, dedup bool) func(context.Context) error {
	mws := []bus.Middleware{
		bus.DeadLetter(s.cfg.Bus, shop.TopicDLQ, group, bus.OnDeadLetter(func(ctx context.Context, m *bus.Message, reason string, attempts int) {
			s.cfg.Logger.Warn("dead-lettered", "group", group, "msg", m.ID, "reason", reason, "attempts", attempts)
			if s.cfg.OnDeadLetter != nil {
				s.cfg.OnDeadLetter(ctx, group, m, reason, attempts)
			}
		})),
		bus.Retry(s.cfg.MaxAttempts, s.cfg.Backoff, s.cfg.Clock),
	}
	if dedup {
		mws = append(mws, bus.Dedup(s.cfg.Inbox, group))
	}
	mws = append(mws, bus.WithMessageContext())
	handler := bus.Chain(h, mws...)
	if s.cfg.Wrap != nil {
		handler = s.cfg.Wrap(group, handler)
	}
	return func(ctx context.Context) error {
		return bus.Consume(ctx, s.cfg.Bus, topic, group, handler, bus.Concurrency(s.cfg.Concurrency))
	}
}

// relayRoute publishes every stored event to the events topic keyed by its
// order, except saga transitions: they are the saga's private state, not
// integration events, and stay in the store.
func relayRoute(e event.Envelope) (topic, key string) {
	if e.Type == sagaTransitionType {
		return "", ""
	}
	return shop.TopicEvents, outbox.DefaultKey(e)
}

// Relayed is the global position of the last event the relay published.
func (s *Shop) Relayed() uint64 { return s.relay.Relayed() }

// EventMessage encodes a stored event as a bus message: the message ID is
// the event ID, the key its order (the correlation ID), the payload the
// whole envelope so consumers see stream, version and position.
func EventMessage(e event.Envelope) (*bus.Message, error) {
	return outbox.Message(e, shop.TopicEvents, outbox.DefaultKey(e))
}

// DecodeEvent parses an event message's payload.
func DecodeEvent(m *bus.Message) (event.Envelope, error) {
	var e event.Envelope
	if err := json.Unmarshal(m.Payload, &e); err != nil {
		return e, fmt.Errorf("service: decode event %s: %w", m.ID, err)
	}
	return e, nil
}

func (s *Shop) handleProjectionEvent(_ context.Context, m *bus.Message) error {
	e, err := DecodeEvent(m)
	if err != nil {
		return err
	}
	_, err = s.cfg.Summaries.Apply(e)
	return err
}

// handleSagaEvent advances the order's saga and sends the commands the
// transition calls for. A redelivered event finds its transition already
// stored and re-sends the same commands (same IDs), which downstream
// deduplication absorbs.
func (s *Shop) handleSagaEvent(ctx context.Context, m *bus.Message) error {
	e, err := DecodeEvent(m)
	if err != nil {
		return err
	}
	orderID := e.Metadata[event.MetaCorrelationID]
	if orderID == "" {
		return nil
	}
	return s.transition(ctx, orderID, e.ID, e, func(st saga.State) (saga.Transition, bool, error) {
		if st.Ended() {
			// A late message: the outcome stands (IgnoreLate), or the
			// definition refuses it and it is dead-lettered.
			if err := shop.Fulfilment.CheckLate(st, e.ID); err != nil {
				return saga.Transition{}, false, bus.Permanent(err)
			}
			return saga.Transition{}, false, nil
		}
		return shop.React(st, e)
	})
}

// transition advances orderID's saga by what react decides on its stored
// state for message cause, stores the transition (optimistically, again
// on a conflict), sends its commands and then arms the deadlines it leaves
// pending. A cause already handled re-sends that transition's commands.
// Arming comes after the send: a fired deadline stays pending until its
// commands went out, so a send that failed (a broker down) is retried when
// the deadline is due again, as a redelivered message is for a consumer.
func (s *Shop) transition(ctx context.Context, orderID, cause string, e event.Envelope,
	react func(saga.State) (saga.Transition, bool, error)) error {
	stream := shop.SagaStream(orderID)
	for range 8 {
		st, version, err := s.sagas.Load(ctx, stream)
		if err != nil {
			return err
		}
		if t, seen := st.Causes[cause]; seen {
			if err := s.sendAll(ctx, e, t.Commands); err != nil {
				return err
			}
			s.arm(orderID, st)
			return nil
		}
		t, ok, err := react(st)
		if err != nil || !ok {
			return err
		}
		next, err := shop.Fulfilment.Apply(st, t)
		if err != nil {
			return bus.Permanent(err)
		}
		te, err := event.New("saga/"+cause, sagaTransitionType, stream, t)
		if err != nil {
			return err
		}
		te.Metadata = map[string]string{event.MetaCorrelationID: orderID, event.MetaCausationID: cause}
		expected := eventstore.NoStream
		if version > 0 {
			expected = eventstore.Exact(version)
		}
		_, err = s.cfg.Store.Append(ctx, stream, expected, te)
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			continue
		}
		if err != nil {
			return err
		}
		if err := s.sendAll(ctx, e, t.Commands); err != nil {
			return err
		}
		s.arm(orderID, next)
		return nil
	}
	return fmt.Errorf("service: saga %s: %w", stream, errTooManyTransitions)
}

// clock is the deadlines' clock: DeadlineClock, else Clock, else the
// wall clock.
func (s *Shop) clock() bus.Clock {
	if s.cfg.DeadlineClock != nil {
		return s.cfg.DeadlineClock
	}
	if s.cfg.Clock == nil {
		return bus.WallClock
	}
	return s.cfg.Clock
}

const sagaTransitionType = "SagaTransition"

var errTooManyTransitions = errors.New("too many concurrent transitions")

// Saga loads an order's saga state from the store: the persisted truth
// about where its fulfilment stands.
func (s *Shop) Saga(ctx context.Context, orderID string) (saga.State, error) {
	st, _, err := s.sagas.Load(ctx, shop.SagaStream(orderID))
	return st, err
}

// evolveSaga folds one stored transition into a saga's state.
func evolveSaga(st saga.State, e event.Envelope) (saga.State, error) {
	var t saga.Transition
	if err := e.Decode(&t); err != nil {
		return st, err
	}
	return shop.Fulfilment.Apply(st, t)
}

func (s *Shop) sendAll(ctx context.Context, cause event.Envelope, cmds [][]byte) error {
	for _, raw := range cmds {
		var c shop.Command
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		m, err := CommandMessage(shop.CommandID(c), c)
		if err != nil {
			return err
		}
		m.SetHeader(event.MetaCausationID, cause.ID)
		if err := s.cfg.Bus.Publish(ctx, m); err != nil {
			return err
		}
	}
	return nil
}
