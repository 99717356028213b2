package bustest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
)

// The requeue storm: what a consumer meets with its first poison message.
const (
	stormBacklog     = 50  // messages of one key waiting in the topic
	stormSubscribers = 3   // subscribers that take turns nacking
	stormNacks       = 100 // Nack(requeue) calls per subscriber
)

// testRequeueStorm has three subscribers of one group, in turn, each
// Nack(requeue) 100 deliveries of one key's 50-message backlog, then a
// fourth ack it all. Contract (every backend): a requeue must not stall
// its key — the next delivery comes within Features.StallAfter — and
// nothing may be lost. Measured: order of the backlog across the
// handovers (group scope).
//
// Before issue 10 a RabbitMQ quorum queue (amqpbus's default) stalled
// every requeue for RequeueWait (5 s): the requeued message went to the
// back, the key's held backlog filled the prefetch window and it could
// not come back.
func testRequeueStorm(t *testing.T, s *session) {
	t.Helper()
	ctx := s.ctx(t)
	topic := Topic(t, "storm")
	ms := msgs(topic, "s", stormBacklog, "storm")
	publish(ctx, t, s.b, ms...)
	tl := newTally(ms)
	var stalls stallCount
	for round := range stormSubscribers {
		if err := stormRound(ctx, t, s.b, topic, tl, &stalls, s.f.StallAfter); err != nil {
			c := tl.counts()
			c.Stalled = stalls.n
			s.measure(t, "requeue storm", ScopeGroup, c)
			t.Fatalf("subscriber %d of %d: %v (%s)", round+1, stormSubscribers, err, stalls)
		}
	}
	t.Logf("%d requeues: %s", stormSubscribers*stormNacks, stalls)
	err := consumeUntil(ctx, subscribe(ctx, t, s.b, topic, "g"), tl, stormBacklog)
	c := tl.counts()
	c.Stalled = stalls.n
	s.measure(t, "requeue storm", ScopeGroup, c)
	if err != nil {
		t.Fatalf("after the storm: %v", err)
	}
}

// stormRound subscribes, nacks stormNacks deliveries with requeue, timing
// each wait for the next one, and cancels the subscription.
func stormRound(ctx context.Context, t *testing.T, b bus.Bus, topic string, tl *tally, st *stallCount, stallAfter time.Duration) error {
	t.Helper()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := subscribe(sctx, t, b, topic, "g")
	var nacked time.Time
	for n := range stormNacks {
		d := recv(ctx, t, ch)
		if d == nil {
			return fmt.Errorf("delivery %d of %d never came (waiting since the last requeue %v)",
				n+1, stormNacks, since(nacked))
		}
		if !nacked.IsZero() {
			st.add(time.Since(nacked), stallAfter)
		}
		tl.add(d.Message())
		if err := d.Nack(ctx, true); err != nil {
			return fmt.Errorf("nack %s: %w", d.Message().ID, err)
		}
		nacked = time.Now()
	}
	cancel()
	waitClosed(ctx, t, ch, "ctx cancel")
	return nil
}

func since(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return time.Since(t).Round(time.Millisecond)
}

// stallCount counts waits after a requeue longer than the bound.
type stallCount struct {
	n, waits   int
	max, total time.Duration
}

func (s *stallCount) add(d, bound time.Duration) {
	s.waits++
	s.total += d
	s.max = max(s.max, d)
	if d > bound {
		s.n++
	}
}

func (s stallCount) String() string {
	mean := time.Duration(0)
	if s.waits > 0 {
		mean = s.total / time.Duration(s.waits)
	}
	return fmt.Sprintf("%d stalls; wait after a requeue: mean %v, max %v", s.n, mean.Round(time.Microsecond), s.max.Round(time.Microsecond))
}
