package redisbus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edkit-dev/edkit/harness/env/netfault"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/redisbus"
)

// The two tests below put an entry in a live subscription's pending list
// that its client never received — what a broker restart does to the
// reply of an XREADGROUP it had already carried out — and require it to
// come back. Before the fix the subscription renewed every entry its
// consumer owned, these included, so none was ever idle long enough to be
// reclaimed: it stayed stranded for the subscription's whole life
// (issue 10: 1 in 10,000 across two restarts).

// consumerOf waits until group has exactly one consumer on key and
// returns its name.
func consumerOf(ctx context.Context, t *testing.T, rc *redis.Client, key, group string) string {
	t.Helper()
	for {
		cs, err := rc.XInfoConsumers(ctx, key, group).Result()
		if err == nil && len(cs) == 1 {
			return cs[0].Name
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group %s on %s: consumers %v, err %v", group, key, cs, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestUnseenPendingEntryIsReclaimed: with no connection error at all, an
// entry handed to the subscription's consumer behind its back must be
// delivered once it is MinIdle old, because the subscription renews only
// what it holds.
func TestUnseenPendingEntryIsReclaimed(t *testing.T) {
	ctx := bustest.Context(t, 30*time.Second)
	b := newBus(t, redisbus.MaxInFlight(1), redisbus.MinIdle(600*time.Millisecond))
	topic := bustest.Topic(t, "unseen")
	key := b.StreamKey(topic)
	ch, err := b.Subscribe(ctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, &bus.Message{ID: "m1", Topic: topic, Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	m1 := bustest.Next(ctx, t, ch) // held unsettled: MaxInFlight(1) stops reading
	rc := redis.NewClient(&redis.Options{Addr: server(t)})
	defer func() { _ = rc.Close() }()
	consumer := consumerOf(ctx, t, rc, key, "g")
	if err := b.Publish(ctx, &bus.Message{ID: "m2", Topic: topic, Key: "k2"}); err != nil {
		t.Fatal(err)
	}
	// Read m2 as the subscription's consumer: it is now pending for it,
	// and its client never saw it.
	res, err := rc.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: consumer, Streams: []string{key, ">"}, Count: 1}).Result()
	if err != nil || len(res) != 1 || len(res[0].Messages) != 1 {
		t.Fatalf("read m2 behind the subscription's back: %v, %v", res, err)
	}
	if err := m1.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	d := nextWithin(t, ch, 10*time.Second, "m2, pending for the live subscription but never received,")
	if d.Message().ID != "m2" {
		t.Fatalf("got %s, want m2", d.Message().ID)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLostReplyRecoveredAfterReconnect loses the reply of an XREADGROUP
// that Redis carried out (a proxy drops what Redis sends, then cuts the
// connections): the subscription must look through its own pending list
// when it reconnects and deliver the entry at once — not after MinIdle,
// set to a minute here.
func TestLostReplyRecoveredAfterReconnect(t *testing.T) {
	ctx := bustest.Context(t, 30*time.Second)
	ps := netfault.New()
	t.Cleanup(func() { _ = ps.Close() })
	p, err := ps.Front(ctx, "redis", server(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := redisbus.New(p.Addr(), redisbus.MinIdle(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	topic := bustest.Topic(t, "lostreply")
	key := b.StreamKey(topic)
	ch, err := b.Subscribe(ctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: server(t)})
	defer func() { _ = rc.Close() }()
	if err := b.Publish(ctx, &bus.Message{ID: "first", Topic: topic, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := bustest.Next(ctx, t, ch).Ack(ctx); err != nil { // the consumer exists once it has read
		t.Fatal(err)
	}
	consumer := consumerOf(ctx, t, rc, key, "g")
	if err := p.DropReplies(); err != nil {
		t.Fatal(err)
	}
	// Published straight to Redis: the subscription's blocked (or next)
	// XREADGROUP takes it, and the reply goes nowhere.
	if err := rc.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: map[string]any{
		redisbus.FieldID: "lost", redisbus.FieldKey: "k", redisbus.FieldPayload: "p"}}).Err(); err != nil {
		t.Fatal(err)
	}
	waitPending(ctx, t, rc, key, consumer)
	if err := p.Partition(); err != nil { // cut the connections: the client sees an error
		t.Fatal(err)
	}
	if err := p.Clear(); err != nil {
		t.Fatal(err)
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	d := nextWithin(t, ch, 10*time.Second, "an entry whose XREADGROUP reply was lost")
	if d.Message().ID != "lost" {
		t.Fatalf("got %s, want the entry whose reply was lost", d.Message().ID)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitPending waits until consumer has an entry pending on key.
func waitPending(ctx context.Context, t *testing.T, rc *redis.Client, key, consumer string) {
	t.Helper()
	for {
		ps, err := rc.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: "g", Start: "-", End: "+", Count: 10, Consumer: consumer}).Result()
		if err == nil && len(ps) > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("nothing pending for %s: %v", consumer, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func nextWithin(t *testing.T, ch <-chan bus.Delivery, d time.Duration, what string) bus.Delivery {
	t.Helper()
	select {
	case got, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return got
	case <-time.After(d):
		t.Fatalf("%s was not delivered within %v", strings.TrimSpace(what), d)
	}
	return nil
}
