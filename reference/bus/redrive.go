package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HeaderRedriven counts how often a message was redriven from a dead-letter
// topic, so a consumer (or an operator) can tell a message that keeps coming
// back from one redriven once.
const HeaderRedriven = "edkit-redriven"

// dlqHeaders are the headers DeadLetter adds; redrive strips them so the
// republished message looks like the original again.
var dlqHeaders = []string{HeaderDLQReason, HeaderDLQAttempts, HeaderDLQOriginalTopic, HeaderDLQGroup}

// DeadLetterEntry describes one message on a dead-letter topic.
type DeadLetterEntry struct {
	ID string `json:"id"`
	// OriginalTopic is the topic the message was consumed from before it
	// was dead-lettered (HeaderDLQOriginalTopic); empty when absent.
	OriginalTopic string `json:"original_topic"`
	// Group is the consumer group that gave up on it (HeaderDLQGroup).
	Group  string `json:"group"`
	Reason string `json:"reason"`
	// Attempts is HeaderDLQAttempts, 0 when absent or not a number.
	Attempts int    `json:"attempts"`
	Key      string `json:"key"`
	// Headers are the message's own headers, without the DLQ ones.
	Headers     map[string]string `json:"headers,omitempty"`
	PayloadSize int               `json:"payload_size"`
}

// EntryOf describes a dead-letter message.
func EntryOf(m *Message) DeadLetterEntry {
	e := DeadLetterEntry{ID: m.ID, OriginalTopic: m.Header(HeaderDLQOriginalTopic), Group: m.Header(HeaderDLQGroup),
		Reason: m.Header(HeaderDLQReason), Key: m.Key, PayloadSize: len(m.Payload), Headers: stripDLQ(m.Headers)}
	if n, err := strconv.Atoi(m.Header(HeaderDLQAttempts)); err == nil {
		e.Attempts = n
	}
	return e
}

func stripDLQ(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	for _, k := range dlqHeaders {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Browser is an optional capability of a Subscriber: it returns up to limit
// messages that group has not yet settled on topic, without settling them or
// moving the group. Peek uses it when the subscriber has it, because a
// broker that hands out one unsettled delivery per partition (Kafka,
// membus) would otherwise only show each partition's head.
type Browser interface {
	Browse(ctx context.Context, topic, group string, limit int) ([]*Message, error)
}

// DLQOption configures Peek and Redrive.
type DLQOption func(*dlqConfig)

type dlqConfig struct {
	limit    int
	idle     time.Duration
	clk      Clock
	to       string
	dryRun   bool
	reason   string
	ids      map[string]bool
	topic    string
	hasTopic bool
}

// Limit stops after n entries (Peek: listed; Redrive: redriven). n < 1
// means no limit.
func Limit(n int) DLQOption { return func(c *dlqConfig) { c.limit = n } }

// Idle stops once no delivery has arrived for d on the clock (default 2 s):
// a subscription never says it is empty, so quiet is the end of the topic.
func Idle(d time.Duration) DLQOption { return func(c *dlqConfig) { c.idle = d } }

// WithClock sets the clock the idle timeout runs on (default: wall clock).
func WithClock(clk Clock) DLQOption { return func(c *dlqConfig) { c.clk = clk } }

// RedriveTo republishes every entry to topic instead of its original topic.
func RedriveTo(topic string) DLQOption { return func(c *dlqConfig) { c.to = topic } }

// DryRun makes Redrive report what it would redrive and skip without
// publishing or settling anything: it peeks.
func DryRun() DLQOption { return func(c *dlqConfig) { c.dryRun = true } }

// MatchReason selects entries whose reason contains substr.
func MatchReason(substr string) DLQOption { return func(c *dlqConfig) { c.reason = substr } }

// MatchIDs selects entries with one of these message IDs.
func MatchIDs(ids ...string) DLQOption {
	return func(c *dlqConfig) {
		if c.ids == nil {
			c.ids = make(map[string]bool, len(ids))
		}
		for _, id := range ids {
			c.ids[id] = true
		}
	}
}

// MatchTopic selects entries dead-lettered from topic.
func MatchTopic(topic string) DLQOption {
	return func(c *dlqConfig) { c.topic, c.hasTopic = topic, true }
}

func newDLQConfig(opts []DLQOption) dlqConfig {
	c := dlqConfig{idle: 2 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	if c.clk == nil {
		c.clk = wallClock{}
	}
	if c.idle <= 0 {
		c.idle = 2 * time.Second
	}
	return c
}

// matches applies every filter given; no filter matches everything.
func (c *dlqConfig) matches(e DeadLetterEntry) bool {
	if c.reason != "" && !strings.Contains(e.Reason, c.reason) {
		return false
	}
	if c.ids != nil && !c.ids[e.ID] {
		return false
	}
	if c.hasTopic && e.OriginalTopic != c.topic {
		return false
	}
	return true
}

// receiver takes deliveries one at a time with an idle timeout on the
// configured clock.
type receiver struct {
	ch  <-chan Delivery
	cfg *dlqConfig
}

// next returns the next delivery, or nil when the subscription closed, ctx
// ended or nothing arrived for the idle time.
func (r receiver) next(ctx context.Context) Delivery {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := make(chan struct{})
	go func() {
		if r.cfg.clk.Sleep(wctx, r.cfg.idle) == nil {
			close(idle)
		}
	}()
	select {
	case d, ok := <-r.ch:
		if !ok {
			return nil
		}
		return d
	case <-idle:
		return nil
	case <-ctx.Done():
		return nil
	}
}

// Peek lists dead letters on dlqTopic that group has not consumed, without
// removing them, up to Limit or until the topic is Idle, in delivery order;
// the filters (MatchReason, MatchIDs, MatchTopic) narrow the list.
//
// When sub is a Browser, Peek browses. Otherwise it subscribes as group and
// holds every delivery unsettled, then nacks each with requeue, so the
// broker keeps them: a peek is at least once, never a removal. A peek that
// dies halfway leaves its deliveries to the broker's redelivery (an
// uncommitted Kafka group rereads them). Without Browse a peek sees at most
// the broker's unsettled window: NATS, Redis and RabbitMQ hand out hundreds
// of deliveries, but Kafka and membus only one per partition.
func Peek(ctx context.Context, sub Subscriber, dlqTopic, group string, opts ...DLQOption) ([]DeadLetterEntry, error) {
	cfg := newDLQConfig(opts)
	all, err := peekAll(ctx, sub, dlqTopic, group, &cfg)
	var out []DeadLetterEntry
	for _, e := range all {
		if cfg.matches(e) {
			out = append(out, e)
		}
	}
	return out, err
}

// peekAll returns every entry seen, matching or not, until cfg.limit of them
// match, idle, or the end.
func peekAll(ctx context.Context, sub Subscriber, topic, group string, cfg *dlqConfig) ([]DeadLetterEntry, error) {
	var out []DeadLetterEntry
	matched := 0
	full := func(e DeadLetterEntry) bool {
		out = append(out, e)
		if cfg.matches(e) {
			matched++
		}
		return cfg.limit > 0 && matched >= cfg.limit
	}
	if br, ok := sub.(Browser); ok {
		msgs, err := br.Browse(ctx, topic, group, 0)
		if err != nil {
			return nil, fmt.Errorf("peek %s as %s: %w", topic, group, err)
		}
		for _, m := range msgs {
			if full(EntryOf(m)) {
				break
			}
		}
		return out, nil
	}
	sctx, cancel := context.WithCancel(ctx)
	// Deferred in this order so the nacks reach the deliveries before the
	// subscription ends and revokes them.
	defer cancel()
	ch, err := sub.Subscribe(sctx, topic, group)
	if err != nil {
		return nil, fmt.Errorf("peek %s as %s: %w", topic, group, err)
	}
	var held []Delivery
	defer func() { requeueAll(ctx, held) }()
	r := receiver{ch: ch, cfg: cfg}
	seen := map[string]bool{}
	for {
		d := r.next(ctx)
		if d == nil {
			return out, ctx.Err()
		}
		m := d.Message()
		if seen[m.ID] {
			// A redelivery of one we hold (a broker that requeued it on a
			// timeout): the first copy stands for it.
			_ = settle(ctx, func(c context.Context) error { return d.Nack(c, true) })
			continue
		}
		seen[m.ID] = true
		held = append(held, d)
		if full(EntryOf(m)) {
			return out, nil
		}
	}
}

// settle runs an Ack or Nack even after ctx ended (so giving up hands
// deliveries back rather than abandoning them), bounded in time.
func settle(ctx context.Context, fn func(context.Context) error) error {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	return fn(c)
}

// requeueAll hands held deliveries back; errors mean the subscription has
// already let go of them, which returns them to the group too.
func requeueAll(ctx context.Context, held []Delivery) {
	for _, d := range held {
		_ = settle(ctx, func(c context.Context) error { return d.Nack(c, true) })
	}
}

// RedriveReport says what a Redrive did.
type RedriveReport struct {
	// Redriven entries were republished and then removed from the DLQ (in
	// a dry run: would have been).
	Redriven []DeadLetterEntry `json:"redriven"`
	// Skipped entries did not match the filters and stay in the DLQ.
	Skipped []DeadLetterEntry `json:"skipped"`
	// Failed entries could not be republished and stay in the DLQ.
	Failed []RedriveFailure `json:"failed"`
	DryRun bool             `json:"dry_run"`
}

// RedriveFailure is one entry Redrive could not republish.
type RedriveFailure struct {
	Entry DeadLetterEntry `json:"entry"`
	Err   string          `json:"error"`
}

// Redrive moves dead letters on dlqTopic back to their original topics (or
// to RedriveTo's): each entry that passes the filters is republished with
// its ID, key, payload and own headers, the DLQ headers removed and
// HeaderRedriven incremented, and its DLQ delivery is acked only after the
// publish was confirmed. At least once, never lost: a crash between the two
// leaves the entry in the DLQ and redrives it again (consumers dedup by ID).
//
// A failed publish leaves the entry in the DLQ: its delivery is held until
// Redrive ends and then nacked with requeue. Entries that do not match the
// filters are held and requeued the same way, so they stay where they were;
// on brokers that hand out one unsettled delivery per partition (Kafka,
// membus) a held entry stops Redrive from reading past it in its
// partition, and a later run with a wider filter gets the rest.
//
// Redrive stops at Limit redriven entries, when the topic is Idle, or when
// ctx ends. The returned error is the subscription's; per-entry failures
// are in the report.
func Redrive(ctx context.Context, sub Subscriber, pub Publisher, dlqTopic, group string, opts ...DLQOption) (RedriveReport, error) {
	cfg := newDLQConfig(opts)
	rep := RedriveReport{DryRun: cfg.dryRun}
	if cfg.dryRun {
		entries, err := peekAll(ctx, sub, dlqTopic, group, &cfg)
		for _, e := range entries {
			if cfg.matches(e) && (cfg.limit < 1 || len(rep.Redriven) < cfg.limit) {
				rep.Redriven = append(rep.Redriven, e)
			} else {
				rep.Skipped = append(rep.Skipped, e)
			}
		}
		return rep, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := sub.Subscribe(sctx, dlqTopic, group)
	if err != nil {
		return rep, fmt.Errorf("redrive %s as %s: %w", dlqTopic, group, err)
	}
	var held []Delivery
	defer func() { requeueAll(ctx, held) }()
	heldIDs := map[string]bool{}
	r := receiver{ch: ch, cfg: &cfg}
	for cfg.limit < 1 || len(rep.Redriven) < cfg.limit {
		d := r.next(ctx)
		if d == nil {
			break
		}
		m := d.Message()
		if heldIDs[m.ID] {
			_ = settle(ctx, func(c context.Context) error { return d.Nack(c, true) })
			continue
		}
		e := EntryOf(m)
		if !cfg.matches(e) {
			held = append(held, d)
			heldIDs[m.ID] = true
			rep.Skipped = append(rep.Skipped, e)
			continue
		}
		if err := redriveOne(ctx, pub, d, &cfg); err != nil {
			held = append(held, d)
			heldIDs[m.ID] = true
			rep.Failed = append(rep.Failed, RedriveFailure{Entry: e, Err: err.Error()})
			continue
		}
		rep.Redriven = append(rep.Redriven, e)
	}
	return rep, ctx.Err()
}

// ErrNoOriginalTopic is returned for an entry that names no original topic
// when no RedriveTo override is given.
var ErrNoOriginalTopic = errors.New("bus: dead letter names no original topic")

func redriveOne(ctx context.Context, pub Publisher, d Delivery, cfg *dlqConfig) error {
	m := d.Message()
	out := m.Clone()
	out.Topic = cfg.to
	if out.Topic == "" {
		out.Topic = m.Header(HeaderDLQOriginalTopic)
	}
	if out.Topic == "" {
		return fmt.Errorf("redrive %s: %w", m.ID, ErrNoOriginalTopic)
	}
	out.Headers = stripDLQ(m.Headers)
	n, _ := strconv.Atoi(m.Header(HeaderRedriven))
	out.SetHeader(HeaderRedriven, strconv.Itoa(n+1))
	if err := pub.Publish(ctx, out); err != nil {
		return fmt.Errorf("redrive %s to %s: %w", m.ID, out.Topic, err)
	}
	// Published: from here the message is safe on its topic. A failed ack
	// only means the entry is redriven again later.
	if err := settle(ctx, d.Ack); err != nil {
		return fmt.Errorf("redrive %s: published to %s but the DLQ ack failed (it will be redriven again): %w",
			m.ID, out.Topic, err)
	}
	return nil
}
