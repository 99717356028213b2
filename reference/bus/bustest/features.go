package bustest

import (
	"fmt"
	"strings"
	"time"
)

// Features is a backend's guarantee profile: what it promises in a
// fault-free run. The suite runs every case on every backend and measures
// what happened; a case fails only when a count breaks a promise made here
// (or the bus.Bus contract, which every backend makes). A weaker promise is
// therefore never a skipped test, only a wider allowance, and the guarantee
// table shows the measured counts beside it.
type Features struct {
	// Name labels the backend: it is the sub-test under which the cases run
	// (TestConformance/<Name>/<case>) and the row of the guarantee table.
	Name string

	// PerKeyOrder promises that one subscription of a group settles each
	// key's messages in publish order.
	PerKeyOrder bool
	// GroupPerKeyOrder promises per-key order across the members of one
	// group, concurrent or one after another (a key is owned by one member at
	// a time, as a Kafka partition is). Without it, members that share a key's
	// messages, or a member that takes over a closed one's, may reorder them.
	GroupPerKeyOrder bool
	// RequeueInPlace promises that after Nack(requeue) the same message is
	// delivered again before any later message of its key. Brokers that put a
	// requeued message at the back of the queue (RabbitMQ quorum queues) may
	// reorder its key once it comes round.
	RequeueInPlace bool
	// MaxDuplicates is how many deliveries of an already acked message one
	// case tolerates. Every backend is at-least-once, so redelivery of what
	// was nacked, or left unsettled by a closed subscription, is expected and
	// not counted; a duplicate here is the broker delivering what it had
	// confirmed as acked.
	MaxDuplicates int
	// MaxUnsettled bounds the deliveries one subscription hands out that are
	// not yet settled (the backend's back-pressure: prefetch, in-flight
	// limit, one delivery per partition). 0 promises no bound: the count is
	// measured and shown, never failed.
	MaxUnsettled int

	// StallAfter is how long a key may wait for its next delivery after a
	// Nack(requeue) before RequeueStorm counts the wait as a stall (default
	// 1 s). Every backend promises none: a requeue must not stall its key.
	StallAfter time.Duration

	// BackpressureMessages is how many messages SlowConsumerBackpressure
	// publishes (default 2000).
	BackpressureMessages int
	// Timeout bounds each case's waits (default the package's Timeout).
	// Loss is seen only when the wait ends, so a short one suits buses that
	// are known to lose (the suite's own tests).
	Timeout time.Duration
}

func (f Features) withDefaults() Features {
	if f.Name == "" {
		f.Name = "bus"
	}
	if f.BackpressureMessages <= 0 {
		f.BackpressureMessages = 2000
	}
	if f.Timeout <= 0 {
		f.Timeout = Timeout
	}
	if f.StallAfter <= 0 {
		f.StallAfter = time.Second
	}
	return f
}

// Scope says which ordering promise a measurement is held to.
type Scope int

const (
	// ScopeNone measures order but promises nothing (e.g. no keys).
	ScopeNone Scope = iota
	// ScopeSubscription is one subscription of a group: Features.PerKeyOrder.
	ScopeSubscription
	// ScopeGroup is several members of a group, at once or in turn:
	// Features.GroupPerKeyOrder.
	ScopeGroup
	// ScopeRequeue is a key whose messages were nacked with requeue:
	// Features.RequeueInPlace.
	ScopeRequeue
)

func (s Scope) String() string {
	switch s {
	case ScopeSubscription:
		return "subscription"
	case ScopeGroup:
		return "group"
	case ScopeRequeue:
		return "requeue"
	}
	return "none"
}

// orderPromised reports whether f promises per-key order in scope s.
func (f Features) orderPromised(s Scope) bool {
	switch s {
	case ScopeSubscription:
		return f.PerKeyOrder
	case ScopeGroup:
		return f.GroupPerKeyOrder
	case ScopeRequeue:
		return f.RequeueInPlace
	}
	return false
}

// Counts is what one measurement saw.
type Counts struct {
	// Published is how many distinct messages the measurement expected.
	Published int
	// Delivered counts deliveries, redeliveries included.
	Delivered int
	// Lost counts expected messages never acked (nor dropped on purpose)
	// by the end of the case.
	Lost int
	// Duplicated counts deliveries of a message after it was acked or
	// dropped (or, for effects, handler effects beyond the first per ID).
	Duplicated int
	// Reordered counts messages settled out of their key's publish order.
	Reordered int
	// Phantom counts deliveries of messages that were never published to
	// the topic: always a bug.
	Phantom int
	// MaxUnsettled is the most deliveries one subscription had handed out
	// and not yet settled at once (only SlowConsumerBackpressure pushes it).
	MaxUnsettled int
	// Stalled counts requeues after which the key waited longer than
	// Features.StallAfter for its next delivery (RequeueStorm): a liveness
	// failure on every backend.
	Stalled int
}

func (c Counts) add(o Counts) Counts {
	c.Published += o.Published
	c.Delivered += o.Delivered
	c.Lost += o.Lost
	c.Duplicated += o.Duplicated
	c.Reordered += o.Reordered
	c.Phantom += o.Phantom
	c.MaxUnsettled = max(c.MaxUnsettled, o.MaxUnsettled)
	c.Stalled += o.Stalled
	return c
}

func (c Counts) String() string {
	return fmt.Sprintf("published=%d delivered=%d lost=%d duplicated=%d reordered=%d phantoms=%d max-unsettled=%d stalled=%d",
		c.Published, c.Delivered, c.Lost, c.Duplicated, c.Reordered, c.Phantom, c.MaxUnsettled, c.Stalled)
}

// Violations compares counts measured in scope with the profile f and
// returns one line per broken promise; none means the measurement passes.
// Loss and phantoms break every profile.
func (f Features) Violations(s Scope, c Counts) []string {
	var v []string
	if c.Lost > 0 {
		v = append(v, fmt.Sprintf("lost=%d: every backend promises no loss", c.Lost))
	}
	if c.Phantom > 0 {
		v = append(v, fmt.Sprintf("phantoms=%d: delivered messages that were never published here", c.Phantom))
	}
	if c.Stalled > 0 {
		v = append(v, fmt.Sprintf("stalled=%d: a requeued key waited over %v for its next delivery", c.Stalled, f.StallAfter))
	}
	if c.Duplicated > f.MaxDuplicates {
		v = append(v, fmt.Sprintf("duplicated=%d: profile allows %d", c.Duplicated, f.MaxDuplicates))
	}
	if c.Reordered > 0 && f.orderPromised(s) {
		v = append(v, fmt.Sprintf("reordered=%d: profile promises per-key order (%s scope)", c.Reordered, s))
	}
	if f.MaxUnsettled > 0 && c.MaxUnsettled > f.MaxUnsettled {
		v = append(v, fmt.Sprintf("max-unsettled=%d: profile bounds it at %d", c.MaxUnsettled, f.MaxUnsettled))
	}
	return v
}

// describe is the profile in one line, for logs and the table.
func (f Features) describe() string {
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	bound := "none"
	if f.MaxUnsettled > 0 {
		bound = fmt.Sprint(f.MaxUnsettled)
	}
	return strings.Join([]string{
		"per-key order: " + yn(f.PerKeyOrder),
		"across group: " + yn(f.GroupPerKeyOrder),
		"requeue in place: " + yn(f.RequeueInPlace),
		fmt.Sprintf("max duplicates: %d", f.MaxDuplicates),
		"unsettled bound: " + bound,
	}, ", ")
}
