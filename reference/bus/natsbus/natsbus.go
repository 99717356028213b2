package natsbus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edkit-dev/edkit/reference/bus"
)

// HeaderKey is the NATS header that carries bus.Message.Key. The ID travels
// in jetstream.MsgIDHeader (Nats-Msg-Id), so JetStream deduplicates on it.
const HeaderKey = "edkit-key"

// HeaderID carries bus.Message.ID when Nats-Msg-Id must differ from it: a
// message redriven from a dead-letter topic (bus.HeaderRedriven set) is
// the same message by ID, but JetStream would drop it as a duplicate of the
// original if it were republished within the stream's duplicate window —
// acknowledged and not stored, so the redrive would remove it from the DLQ
// and lose it. Its Nats-Msg-Id is therefore the ID plus the redrive count,
// which keeps a retried redrive idempotent too.
const HeaderID = "edkit-id"

// Option configures a Bus.
type Option func(*config)

type config struct {
	prefix         string
	storage        jetstream.StorageType
	replicas       int
	dupWindow      time.Duration
	ackWait        time.Duration
	maxDeliver     int
	maxAckPending  int
	maxBuffered    int
	pullBatch      int
	redeliveryWait time.Duration
	opTimeout      time.Duration
	dlqTopic       string
	onError        func(error)
	connOpts       []nats.Option
}

// Prefix sets the subject prefix and stream-name prefix (default "edkit"),
// so several systems can share one NATS account without colliding.
func Prefix(p string) Option { return func(c *config) { c.prefix = p } }

// MemoryStorage keeps streams in memory instead of files: faster, but a
// server restart loses them.
func MemoryStorage() Option { return func(c *config) { c.storage = jetstream.MemoryStorage } }

// Replicas sets the stream replica count for clustered servers (default 1).
func Replicas(n int) Option { return func(c *config) { c.replicas = n } }

// DuplicateWindow sets how long JetStream remembers message IDs to drop
// republishes (default 2 minutes). It applies to streams this Bus creates.
func DuplicateWindow(d time.Duration) Option { return func(c *config) { c.dupWindow = d } }

// AckWait sets how long the server waits for a settle before redelivering
// (default 30 s).
func AckWait(d time.Duration) Option { return func(c *config) { c.ackWait = d } }

// MaxDeliver caps deliveries per message and group (default 0: unlimited).
// Past it the server stops delivering the message; see DeadLetterTopic.
func MaxDeliver(n int) Option { return func(c *config) { c.maxDeliver = n } }

// MaxAckPending caps unacknowledged messages per consumer group on the
// server (default 1000).
func MaxAckPending(n int) Option { return func(c *config) { c.maxAckPending = n } }

// MaxBuffered caps the messages one subscription holds fetched but not yet
// settled (default 256): the subscription's back-pressure.
func MaxBuffered(n int) Option { return func(c *config) { c.maxBuffered = n } }

// PullBatch sets how many messages one pull request asks for (default 64).
func PullBatch(n int) Option { return func(c *config) { c.pullBatch = n } }

// RedeliveryWait bounds how long a subscription holds a key after
// Nack(requeue) waiting for the server's redelivery (default 5 s); past it
// the key's later messages are released.
func RedeliveryWait(d time.Duration) Option { return func(c *config) { c.redeliveryWait = d } }

// OpTimeout bounds each confirmed settle and JetStream API call whose ctx
// has no deadline, and each publish's wait for its PubAck (default 10 s);
// past it the outcome is unknown.
func OpTimeout(d time.Duration) Option { return func(c *config) { c.opTimeout = d } }

// DeadLetterTopic routes messages that reached MaxDeliver to topic, with the
// bus.HeaderDLQ* headers, via the server's MAX_DELIVERIES advisory. It has
// an effect only together with MaxDeliver.
func DeadLetterTopic(topic string) Option { return func(c *config) { c.dlqTopic = topic } }

// OnError receives failures of background work (dead-letter routing) that
// no caller could be told about. Default: ignored.
func OnError(f func(error)) Option { return func(c *config) { c.onError = f } }

// ConnectOptions adds nats.go connection options (credentials, TLS,
// reconnect policy) to the ones New sets.
func ConnectOptions(opts ...nats.Option) Option {
	return func(c *config) { c.connOpts = append(c.connOpts, opts...) }
}

func (c config) validate() error {
	var errs []error
	if c.prefix == "" || strings.ContainsAny(c.prefix, ".*> \t\r\n/\\") {
		errs = append(errs, fmt.Errorf("%w: prefix %q must be one subject token", ErrBadOption, c.prefix))
	}
	for name, v := range map[string]int{"replicas": c.replicas, "max ack pending": c.maxAckPending,
		"max buffered": c.maxBuffered, "pull batch": c.pullBatch} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%w: %s %d, want >= 1", ErrBadOption, name, v))
		}
	}
	if c.maxDeliver < 0 {
		errs = append(errs, fmt.Errorf("%w: max deliver %d, want >= 0", ErrBadOption, c.maxDeliver))
	}
	for name, d := range map[string]time.Duration{"ack wait": c.ackWait, "redelivery wait": c.redeliveryWait,
		"op timeout": c.opTimeout, "duplicate window": c.dupWindow} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%w: %s %v, want > 0", ErrBadOption, name, d))
		}
	}
	if c.dlqTopic != "" {
		if err := checkTopic(c.dlqTopic); err != nil {
			errs = append(errs, fmt.Errorf("%w: dead-letter topic: %w", ErrBadOption, err))
		}
	}
	return errors.Join(errs...)
}

// Bus is a JetStream-backed bus.Bus. It owns one NATS connection, shared
// by publishes, subscriptions and dead-letter routing.
type Bus struct {
	cfg config
	nc  *nats.Conn
	js  jetstream.JetStream

	mu      sync.Mutex
	closed  bool
	done    chan struct{}
	streams map[string]jetstream.Stream // by topic
	dlqSubs map[string]*nats.Subscription
	subs    sync.WaitGroup // subscription pumps
	bg      sync.WaitGroup // dead-letter handlers

	ensureMu sync.Mutex // serialises stream creation
}

var _ bus.Bus = (*Bus)(nil)

// New connects to the NATS server at url (a comma-separated list is fine)
// and returns a Bus. Streams and consumers are created on first use.
func New(url string, opts ...Option) (*Bus, error) {
	if url == "" {
		return nil, ErrNoURL
	}
	cfg := config{
		prefix:         "edkit",
		storage:        jetstream.FileStorage,
		replicas:       1,
		dupWindow:      2 * time.Minute,
		ackWait:        30 * time.Second,
		maxAckPending:  1000,
		maxBuffered:    256,
		pullBatch:      64,
		redeliveryWait: 5 * time.Second,
		opTimeout:      10 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	copts := append([]nats.Option{
		nats.Name("edkit-natsbus"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
	}, cfg.connOpts...)
	nc, err := nats.Connect(url, copts...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect: %w", err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncTimeout(cfg.opTimeout),
		jetstream.WithDefaultTimeout(cfg.opTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbus: jetstream: %w", err)
	}
	return &Bus{
		cfg: cfg, nc: nc, js: js,
		done:    make(chan struct{}),
		streams: map[string]jetstream.Stream{},
		dlqSubs: map[string]*nats.Subscription{},
	}, nil
}

// checkTopic rejects topics that are not a valid subject suffix.
func checkTopic(topic string) error {
	if topic == "" {
		return ErrNoTopic
	}
	if strings.IndexFunc(topic, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 ||
		strings.ContainsAny(topic, "*>") {
		return fmt.Errorf("%w: %q", ErrBadTopic, topic)
	}
	for _, tok := range strings.Split(topic, ".") {
		if tok == "" {
			return fmt.Errorf("%w: %q has an empty token", ErrBadTopic, topic)
		}
	}
	return nil
}

// Subject is the NATS subject topic is published on.
func (b *Bus) Subject(topic string) string { return b.cfg.prefix + "." + topic }

// StreamName is the JetStream stream that stores topic: readable, and
// collision-free through a hash of the exact topic.
func (b *Bus) StreamName(topic string) string { return b.cfg.prefix + "_" + nameFor(topic) }

// ConsumerName is the durable consumer of group on a topic's stream.
func ConsumerName(group string) string { return nameFor(group) }

// nameFor maps s to a valid stream or consumer name: the safe characters
// of s (at most 48) and 8 bytes of its SHA-256.
func nameFor(s string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
	if len(safe) > 48 {
		safe = safe[:48]
	}
	sum := sha256.Sum256([]byte(s))
	return safe + "_" + hex.EncodeToString(sum[:8])
}

// ctxTimeout bounds ctx by the op timeout when it has no deadline.
func (b *Bus) ctxTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.cfg.opTimeout)
}

// stream returns topic's stream, creating it on first use.
func (b *Bus) stream(ctx context.Context, topic string) (jetstream.Stream, error) {
	b.mu.Lock()
	s, ok := b.streams[topic]
	b.mu.Unlock()
	if ok {
		return s, nil
	}
	b.ensureMu.Lock()
	defer b.ensureMu.Unlock()
	b.mu.Lock()
	s, ok = b.streams[topic]
	b.mu.Unlock()
	if ok {
		return s, nil
	}
	ctx, cancel := b.ctxTimeout(ctx)
	defer cancel()
	name := b.StreamName(topic)
	s, err := b.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       name,
		Subjects:   []string{b.Subject(topic)},
		Retention:  jetstream.LimitsPolicy,
		Storage:    b.cfg.storage,
		Replicas:   b.cfg.replicas,
		Duplicates: b.cfg.dupWindow,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Created by another bus with a different config: use it as it is.
		s, err = b.js.Stream(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("natsbus: stream %s for topic %s: %w", name, topic, err)
	}
	b.mu.Lock()
	b.streams[topic] = s
	b.mu.Unlock()
	return s, nil
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Publish sends every message asynchronously and returns once JetStream
// has acknowledged all of them. An error wrapping bus.ErrOutcomeUnknown
// means some may have been stored.
func (b *Bus) Publish(ctx context.Context, msgs ...*bus.Message) error {
	if b.isClosed() {
		return bus.ErrClosed
	}
	type sent struct {
		id string
		f  jetstream.PubAckFuture
	}
	nms := make([]*nats.Msg, 0, len(msgs))
	for i, m := range msgs {
		if m == nil {
			return fmt.Errorf("message %d: %w", i, ErrNilMessage)
		}
		if err := checkTopic(m.Topic); err != nil {
			return fmt.Errorf("message %d (%s): %w", i, m.ID, err)
		}
		if _, err := b.stream(ctx, m.Topic); err != nil {
			return err
		}
		nms = append(nms, b.toNATS(m))
	}
	futs := make([]sent, 0, len(nms))
	var sendErr error
	for _, nm := range nms {
		id := nm.Header.Get(jetstream.MsgIDHeader)
		f, err := b.js.PublishMsgAsync(nm)
		if err != nil {
			sendErr = fmt.Errorf("natsbus: publish %s: %w", id, err)
			break
		}
		futs = append(futs, sent{id: id, f: f})
	}
	var errs []error
	unknown := sendErr != nil && len(futs) > 0 // an earlier part of the batch may be stored
	if sendErr != nil {
		errs = append(errs, sendErr)
	}
	for _, s := range futs {
		select {
		case <-s.f.Ok():
		case err := <-s.f.Err():
			if outcomeUnknown(err) {
				unknown = true
			}
			errs = append(errs, fmt.Errorf("natsbus: publish %s: %w", s.id, err))
		case <-ctx.Done():
			return fmt.Errorf("natsbus: publish: awaiting acks: %w: %w", bus.ErrOutcomeUnknown, ctx.Err())
		case <-b.done:
			return fmt.Errorf("natsbus: publish: awaiting acks: %w: %w", bus.ErrOutcomeUnknown, bus.ErrClosed)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err := errors.Join(errs...)
	if unknown {
		return fmt.Errorf("%w: %w", bus.ErrOutcomeUnknown, err)
	}
	return err
}

// outcomeUnknown reports whether a PubAck error leaves the outcome open.
// A server error reply (an APIError) or no responders (no stream bound the
// subject) is a definite refusal; a timeout or lost connection is not.
func outcomeUnknown(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return false
	}
	return true
}

func (b *Bus) toNATS(m *bus.Message) *nats.Msg {
	h := nats.Header{}
	for k, v := range m.Headers {
		if k == HeaderKey || k == jetstream.MsgIDHeader || k == HeaderID {
			continue
		}
		h[k] = []string{v}
	}
	if m.ID != "" {
		h[jetstream.MsgIDHeader] = []string{m.ID}
		if n := m.Header(bus.HeaderRedriven); n != "" {
			h[jetstream.MsgIDHeader] = []string{m.ID + "#redriven-" + n}
			h[HeaderID] = []string{m.ID}
		}
	}
	if m.Key != "" {
		h[HeaderKey] = []string{m.Key}
	}
	return &nats.Msg{Subject: b.Subject(m.Topic), Data: m.Payload, Header: h}
}

// fromNATS rebuilds a message stored on topic.
func fromNATS(topic string, h nats.Header, data []byte) *bus.Message {
	m := &bus.Message{Topic: topic, Payload: data}
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		switch k {
		case jetstream.MsgIDHeader:
			if m.ID == "" {
				m.ID = vs[0]
			}
		case HeaderID:
			m.ID = vs[0]
		case HeaderKey:
			m.Key = vs[0]
		default:
			m.SetHeader(k, vs[0])
		}
	}
	return m
}

// Close stops every subscription (their channels close; unsettled
// deliveries are redelivered by the server after AckWait), stops
// dead-letter routing and closes the connection. Later calls return
// bus.ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.closed = true
	close(b.done)
	subs := b.dlqSubs
	b.dlqSubs = nil
	b.mu.Unlock()
	var errs []error
	for _, s := range subs {
		if err := s.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, err)
		}
	}
	b.subs.Wait()
	b.bg.Wait()
	b.nc.Close()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("natsbus: close: %w", err)
	}
	return nil
}
