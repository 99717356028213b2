package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/edkit-dev/edkit/examples/bank"
	"github.com/edkit-dev/edkit/reference/bus"
)

// Service is the bank's accounts on a bus: commands in, one answer out
// per command. Run it once.
type Service struct {
	bus      bus.Bus
	cfg      Config
	accounts *accounts
	out      *emitter

	ready     chan struct{}
	readyOnce sync.Once
	running   atomic.Bool

	run     string        // this run's random ID prefix
	seq     atomic.Uint64 // answers' ID counter
	failMu  sync.Mutex
	failErr error
}

// New returns a service on b; Run starts it. cfg's zero fields take the
// defaults; Run reports a bad cfg.
func New(b bus.Bus, cfg Config) *Service {
	cfg = cfg.withDefaults()
	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails (Go 1.24+)
	s := &Service{
		bus:      b,
		cfg:      cfg,
		accounts: newAccounts(cfg.InboxSize),
		ready:    make(chan struct{}),
		run:      "bank-service-" + hex.EncodeToString(rnd[:]) + "-",
	}
	s.out = &emitter{pub: b, cfg: cfg, newID: s.newID, held: map[string]*held{}}
	return s
}

// Config is the service's configuration, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// Ready is closed once the command subscription is established: for
// amqpbus the group's queue exists, for the others the group will read
// from its committed position (a new group from the topic's start).
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Run consumes commands until ctx is done and returns nil then; held
// answers (ReorderEvery) are published before it returns. It returns the
// subscription's error, bus.ErrSubscriptionEnded when the broker ends the
// subscription, or the error of a publish that kept failing (its command
// is requeued, not acked).
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.out.ctx = ctx
	s.out.fail = func(err error) { s.fail(err, cancel) }
	handler := func(hctx context.Context, m *bus.Message) error {
		err := s.handle(hctx, m)
		if err != nil && hctx.Err() == nil {
			s.fail(err, cancel) // Consume sees ctx done and requeues m
		}
		return err
	}
	sub := readySubscriber{Subscriber: s.bus, ready: s.markReady}
	err := bus.Consume(ctx, sub, s.cfg.In, s.cfg.Group, handler)
	if err != nil {
		err = fmt.Errorf("service: consume %s as %s: %w", s.cfg.In, s.cfg.Group, err)
	}
	return errors.Join(s.failed(), err, s.out.flush())
}

// handle answers one command: skip it when the inbox knows its ID, else
// decide, publish the answer, then commit the account's new state.
func (s *Service) handle(ctx context.Context, m *bus.Message) error {
	if s.accounts.seen(m.ID) {
		return nil // acked; its first answer stands
	}
	var answer bank.Msg
	var next bank.Account
	c, err := decodeCommand(m.Payload)
	if err != nil {
		answer, c = rejected(bank.Msg{}, err), bank.Msg{}
	} else {
		answer, next = s.accounts.decide(c)
	}
	key := answer.Account
	if key == "" {
		key = m.Key
	}
	out, err := s.answerMessage(m, key, answer)
	if err != nil {
		return err
	}
	if err := s.out.emit(ctx, key, out); err != nil {
		return err
	}
	s.accounts.commit(m.ID, c.Account, next)
	return nil
}

// answerMessage is the message that carries answer to command m.
func (s *Service) answerMessage(m *bus.Message, key string, answer bank.Msg) (*bus.Message, error) {
	data, err := json.Marshal(answer)
	if err != nil {
		return nil, fmt.Errorf("encode answer to %s: %w", m.ID, err)
	}
	out := &bus.Message{ID: s.newID(), Topic: s.cfg.Out, Key: key, Payload: data}
	out.SetHeader(bus.HeaderType, answer.Type)
	out.SetHeader(HeaderCausation, m.ID)
	if v, ok := m.Headers[s.cfg.CorrelationHeader]; ok {
		out.SetHeader(s.cfg.CorrelationHeader, v)
	}
	return out, nil
}

// newID is a fresh message ID: unique across runs by the random prefix.
func (s *Service) newID() string {
	return s.run + strconv.FormatUint(s.seq.Add(1), 10)
}

func (s *Service) markReady() { s.readyOnce.Do(func() { close(s.ready) }) }

// fail records the first error that stops Run, and stops it.
func (s *Service) fail(err error, cancel context.CancelFunc) {
	s.failMu.Lock()
	if s.failErr == nil {
		s.failErr = fmt.Errorf("service: %w", err)
	}
	s.failMu.Unlock()
	cancel()
}

func (s *Service) failed() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failErr
}

// readySubscriber tells when Consume's subscription is established.
type readySubscriber struct {
	bus.Subscriber
	ready func()
}

func (r readySubscriber) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	ch, err := r.Subscriber.Subscribe(ctx, topic, group)
	if err == nil {
		r.ready()
	}
	return ch, err
}
