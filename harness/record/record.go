package record

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/reference/bus"
)

type consumerKey struct{}

// consumerCall is what the consumer middleware knows about the delivery in
// flight: who handles it, and whether it was dead-lettered meanwhile.
type consumerCall struct {
	group, process string
	deadLettered   bool
}

// Bus wraps a bus so every publish is recorded as an invoke followed by ok,
// fail or info, and stamps each message with a per-key sequence number
// (bus.HeaderSeq) that consumers and the order checker read back.
type Bus struct {
	bus.Bus
	rec     *history.Recorder
	process string
	opts    options

	mu  sync.Mutex
	seq map[string]int64 // topic + "\x00" + key → last sequence
}

var _ bus.Bus = (*Bus)(nil)

// NewBus wraps inner. process names publishes made outside any handler
// (a load generator, say); publishes made inside a handler are named after
// the handler's group.
func NewBus(inner bus.Bus, rec *history.Recorder, process string, opts ...Option) *Bus {
	return &Bus{Bus: inner, rec: rec, process: process, seq: map[string]int64{}, opts: apply(opts)}
}

// Publish records and forwards. Messages are cloned before stamping, so the
// caller's messages are never modified.
func (b *Bus) Publish(ctx context.Context, msgs ...*bus.Message) error {
	process := b.process
	if c, ok := ctx.Value(consumerKey{}).(*consumerCall); ok {
		process = c.group
	}
	out := make([]*bus.Message, len(msgs))
	invokes := make([]history.Op, len(msgs))
	b.mu.Lock()
	for i, m := range msgs {
		c := m.Clone()
		seq, _ := strconv.ParseInt(c.Header(bus.HeaderSeq), 10, 64)
		if seq == 0 {
			k := c.Topic + "\x00" + c.Key
			b.seq[k]++
			seq = b.seq[k]
			c.SetHeader(bus.HeaderSeq, strconv.FormatInt(seq, 10))
		}
		out[i] = c
		// Value is the message's type, when it names one: scenarios
		// expect messages on topics by type.
		invokes[i] = history.Op{Process: process, Type: history.Invoke, F: history.Publish, Topic: c.Topic, Key: c.Key, MsgID: c.ID, Seq: seq,
			Value: c.Header(bus.HeaderType)}
	}
	// Record invokes under the same lock that assigned sequences, so the
	// history's publish order per key matches the sequence order.
	for i := range invokes {
		invokes[i] = b.rec.Record(invokes[i])
	}
	b.mu.Unlock()
	err := b.Bus.Publish(ctx, out...)
	typ := publishOutcome(err, len(out))
	for _, inv := range invokes {
		op := inv
		op.Type = typ
		if err != nil {
			op.Error = err.Error()
		} else if b.opts.ledger != nil {
			b.opts.ledger.publishedOK(op.Topic, op.MsgID)
		}
		b.rec.Record(op)
	}
	return err
}

// Consumer is middleware recording each delivery, and its ack or nack, as
// seen by one consumer group. Put it inside any fault middleware, so that a
// duplicated delivery is recorded twice, like a real redelivery.
func Consumer(rec *history.Recorder, group string, opts ...Option) bus.Middleware {
	o := apply(opts)
	return func(next bus.Handler) bus.Handler {
		return func(ctx context.Context, m *bus.Message) error {
			seq, _ := strconv.ParseInt(m.Header(bus.HeaderSeq), 10, 64)
			base := history.Op{Process: group, Type: history.OK, Topic: m.Topic, Group: group, Key: m.Key, MsgID: m.ID, Seq: seq}
			d := base
			d.F = history.Deliver
			d.Attempt = 1
			if a, _ := strconv.Atoi(m.Header(bus.HeaderAttempt)); a > 0 {
				d.Attempt = a
			}
			rec.Record(d)
			call := &consumerCall{group: group, process: group}
			err := next(context.WithValue(ctx, consumerKey{}, call), m)
			if err == nil && o.ledger != nil {
				o.ledger.settledBy(m.Topic, group, m.ID)
			}
			if call.deadLettered && err == nil {
				// The dead-letter op already settled it; an ack here would
				// count the message as processed too.
				return nil
			}
			s := base
			s.F = history.Ack
			if err != nil {
				s.F = history.Nack
				s.Error = err.Error()
				if ctx.Err() != nil {
					s.Value = "requeue"
				}
			}
			rec.Record(s)
			return err
		}
	}
}

// DeadLetter records that the message handled in ctx went to the DLQ. Call
// it from bus.OnDeadLetter.
func DeadLetter(ctx context.Context, rec *history.Recorder, group string, m *bus.Message, reason string, attempts int) {
	if c, ok := ctx.Value(consumerKey{}).(*consumerCall); ok {
		c.deadLettered = true
	}
	seq, _ := strconv.ParseInt(m.Header(bus.HeaderSeq), 10, 64)
	rec.Record(history.Op{Process: group, Type: history.OK, F: history.DeadLetter, Topic: m.Topic, Group: group,
		Key: m.Key, MsgID: m.ID, Seq: seq, Attempt: attempts, Value: reason})
}

// MarkDeadLettered tells the consumer wrapper handling ctx's delivery that
// the handler dead-lettered it, without recording a dead-letter op: for
// runs that record dead letters from what reaches the dead-letter topic
// instead of from the system's word (the consumer then records no ack).
func MarkDeadLettered(ctx context.Context) {
	if c, ok := ctx.Value(consumerKey{}).(*consumerCall); ok {
		c.deadLettered = true
	}
}

// Effect records a side effect named name, attributed to the message being
// handled in ctx (bus.MessageFrom) and its consumer group. An effect outside
// any handler is still recorded, with an Error saying so: skipping it would
// hide exactly what the duplicate-effect checker looks for. Recording never
// fails the caller, whose effect has already happened.
func Effect(ctx context.Context, rec *history.Recorder, name string) {
	op := history.Op{Type: history.OK, F: history.Effect, Value: name, Attempt: bus.AttemptFrom(ctx)}
	if c, ok := ctx.Value(consumerKey{}).(*consumerCall); ok {
		op.Process, op.Group = c.process, c.group
	}
	if m := bus.MessageFrom(ctx); m != nil {
		op.Topic, op.Key, op.MsgID = m.Topic, m.Key, m.ID
	} else {
		op.Error = "effect outside a message handler"
	}
	rec.Record(op)
}

// publishOutcome classifies a publish error: Fail only when the message
// surely did not reach the broker — a single message refused with an error
// the backend does not mark as outcome-unknown, and no cancellation — and
// Info otherwise. A batch that failed may have been written in part, so it
// is Info for every message in it.
func publishOutcome(err error, n int) history.Type {
	switch {
	case err == nil:
		return history.OK
	case n == 1 && !errors.Is(err, bus.ErrOutcomeUnknown) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		return history.Fail
	default:
		return history.Info
	}
}
