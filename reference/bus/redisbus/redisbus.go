package redisbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Stream entry fields.
const (
	FieldID      = "id"
	FieldKey     = "key"
	FieldPayload = "payload"
	FieldHeaders = "headers"
)

// Option configures a Bus.
type Option func(*config)

type config struct {
	prefix      string
	maxLen      int64
	block       time.Duration
	count       int64
	maxInFlight int
	minIdle     time.Duration
	deleteOnAck bool
	poolSize    int
}

// Prefix is prepended to every topic to make its stream key, so several
// systems can share one Redis (default "").
func Prefix(p string) Option { return func(c *config) { c.prefix = p } }

// MaxLen trims each stream on publish to about n entries (XADD MAXLEN ~ n).
// Trimming deletes old entries even if a group has not read them: it bounds
// memory at the cost of possible loss. 0 (the default) never trims.
func MaxLen(n int64) Option { return func(c *config) { c.maxLen = n } }

// Block bounds how long one XREADGROUP waits for new entries (default
// 100 ms). Shorter means faster shutdown and reclaim checks, more commands.
func Block(d time.Duration) Option { return func(c *config) { c.block = d } }

// ReadCount caps the entries one XREADGROUP or XAUTOCLAIM returns
// (default 64).
func ReadCount(n int64) Option { return func(c *config) { c.count = n } }

// MaxInFlight caps the entries a subscription holds read but unsettled
// (default 256): the subscription's back-pressure.
func MaxInFlight(n int) Option { return func(c *config) { c.maxInFlight = n } }

// MinIdle is how long an entry must sit unrenewed in another consumer's
// pending list before a subscription reclaims it (default 30 s). Live
// subscriptions renew theirs every MinIdle/3, so it only bites for dead
// consumers.
func MinIdle(d time.Duration) Option { return func(c *config) { c.minIdle = d } }

// DeleteOnAck deletes acked entries from the stream (XDEL) to save memory.
// Only for topics read by a single group: another group that has not read
// the entry yet loses it.
func DeleteOnAck() Option { return func(c *config) { c.deleteOnAck = true } }

// PoolSize sets the client's connection pool size (go-redis default: 10 per
// CPU). Each subscription holds one connection while it blocks in a read.
func PoolSize(n int) Option { return func(c *config) { c.poolSize = n } }

func (c config) validate() error {
	var errs []error
	if c.maxLen < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxLen %d < 0", ErrBadOption, c.maxLen))
	}
	if c.block <= 0 {
		errs = append(errs, fmt.Errorf("%w: Block %v <= 0", ErrBadOption, c.block))
	}
	if c.count <= 0 {
		errs = append(errs, fmt.Errorf("%w: ReadCount %d <= 0", ErrBadOption, c.count))
	}
	if c.maxInFlight <= 0 {
		errs = append(errs, fmt.Errorf("%w: MaxInFlight %d <= 0", ErrBadOption, c.maxInFlight))
	}
	if c.minIdle < 3*time.Millisecond {
		errs = append(errs, fmt.Errorf("%w: MinIdle %v < 3ms", ErrBadOption, c.minIdle))
	}
	if c.poolSize < 0 {
		errs = append(errs, fmt.Errorf("%w: PoolSize %d < 0", ErrBadOption, c.poolSize))
	}
	return errors.Join(errs...)
}

// Bus is a Redis Streams bus.Bus. It owns one go-redis client, shared by
// publishes and subscriptions.
type Bus struct {
	cfg    config
	client *redis.Client

	mu      sync.Mutex
	closed  bool
	done    chan struct{}
	subs    sync.WaitGroup // subscription pumps
	publish sync.WaitGroup // publishes in progress
}

var _ bus.Bus = (*Bus)(nil)

// New returns a Bus for one Redis server, addressed as host:port or as a
// redis:// URL. It does not connect until first use.
func New(addr string, opts ...Option) (*Bus, error) {
	if addr == "" {
		return nil, ErrNoAddr
	}
	cfg := config{block: 100 * time.Millisecond, count: 64, maxInFlight: 256, minIdle: 30 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ro := &redis.Options{Addr: addr}
	if strings.Contains(addr, "://") {
		var err error
		if ro, err = redis.ParseURL(addr); err != nil {
			return nil, fmt.Errorf("redisbus: parse %q: %w", addr, err)
		}
	}
	// A retried XADD whose first reply was lost would be written twice
	// while Publish reports one success; the bus retries reads itself.
	ro.MaxRetries = -1
	// Without it go-redis ignores ctx deadlines on reads and writes, and a
	// publish to a silent server outlives its caller's deadline.
	ro.ContextTimeoutEnabled = true
	if cfg.poolSize > 0 {
		ro.PoolSize = cfg.poolSize
	}
	return &Bus{cfg: cfg, client: redis.NewClient(ro), done: make(chan struct{})}, nil
}

// Client is the underlying go-redis client, for inspection (XLEN,
// XPENDING) by tests and tools. Closing it breaks the Bus.
func (b *Bus) Client() *redis.Client { return b.client }

// StreamKey is the Redis key of topic's stream.
func (b *Bus) StreamKey(topic string) string { return b.cfg.prefix + topic }

// Publish appends the messages to their topics' streams in one pipeline and
// returns once Redis confirmed every one. An error wrapping
// bus.ErrOutcomeUnknown means some may have been appended; any other error
// names the messages Redis refused (the others were appended).
func (b *Bus) Publish(ctx context.Context, msgs ...*bus.Message) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.publish.Add(1)
	b.mu.Unlock()
	defer b.publish.Done()

	args := make([]*redis.XAddArgs, len(msgs))
	for i, m := range msgs {
		if m == nil {
			return fmt.Errorf("message %d: %w", i, ErrNilMessage)
		}
		if m.Topic == "" {
			return fmt.Errorf("message %d (%s): %w", i, m.ID, ErrNoTopic)
		}
		a, err := b.toXAdd(m)
		if err != nil {
			return err
		}
		args[i] = a
	}
	if len(args) == 0 {
		return nil
	}
	cmds, _ := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, a := range args {
			p.XAdd(ctx, a)
		}
		return nil
	})
	var refused, unknown []error
	for i, c := range cmds {
		err := c.Err()
		if err == nil {
			continue
		}
		err = fmt.Errorf("message %d (%s): %w", i, msgs[i].ID, err)
		if outcomeUnknown(err) {
			unknown = append(unknown, err)
		} else {
			refused = append(refused, err)
		}
	}
	switch {
	case len(unknown) > 0:
		return fmt.Errorf("redisbus: publish: %w: %w", bus.ErrOutcomeUnknown, errors.Join(append(unknown, refused...)...))
	case len(refused) > 0:
		return fmt.Errorf("redisbus: publish: %w", errors.Join(refused...))
	}
	return nil
}

func (b *Bus) toXAdd(m *bus.Message) (*redis.XAddArgs, error) {
	values := []any{FieldID, m.ID, FieldKey, m.Key, FieldPayload, m.Payload}
	if len(m.Headers) > 0 {
		h, err := json.Marshal(m.Headers)
		if err != nil {
			return nil, fmt.Errorf("redisbus: encode headers of %s: %w", m.ID, err)
		}
		values = append(values, FieldHeaders, h)
	}
	return &redis.XAddArgs{Stream: b.StreamKey(m.Topic), MaxLen: b.cfg.maxLen, Approx: true, Values: values}, nil
}

// fromEntry decodes a stream entry. Fields it does not know are ignored;
// undecodable headers are dropped rather than losing the message.
func fromEntry(topic string, xm redis.XMessage) *bus.Message {
	str := func(f string) string {
		s, _ := xm.Values[f].(string)
		return s
	}
	m := &bus.Message{ID: str(FieldID), Topic: topic, Key: str(FieldKey), Payload: []byte(str(FieldPayload))}
	if h := str(FieldHeaders); h != "" {
		var hs map[string]string
		if json.Unmarshal([]byte(h), &hs) == nil && len(hs) > 0 {
			m.Headers = hs
		}
	}
	return m
}

// outcomeUnknown reports whether a command error leaves the outcome open:
// anything but an error reply from Redis. go-redis reports a connection
// that could not be made as the caller's deadline passing, which cannot be
// told from a lost reply, so that counts as unknown too.
func outcomeUnknown(err error) bool {
	var re redis.Error
	return !errors.As(err, &re)
}

// Close stops every subscription (their channels close; unsettled entries
// are released to the group for another member), waits for publishes in
// progress, then closes the client. Later calls return bus.ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.closed = true
	close(b.done)
	b.mu.Unlock()
	b.subs.Wait()
	b.publish.Wait()
	if err := b.client.Close(); err != nil {
		return fmt.Errorf("redisbus: close client: %w", err)
	}
	return nil
}
