package membus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

// profile is membus's promise: a partition has one unsettled delivery per
// group at a time, so order holds per key across members and requeues, and
// a subscription holds at most one delivery per partition.
func profile(name string, partitions int) bustest.Features {
	return bustest.Features{Name: name, PerKeyOrder: true, GroupPerKeyOrder: true, RequeueInPlace: true,
		MaxUnsettled: partitions}
}

func TestConformance(t *testing.T) {
	bustest.Run(t, profile("membus", 4), func(*testing.T) bus.Bus { return membus.New() })
	bustest.Run(t, profile("membus-1partition", 1), func(*testing.T) bus.Bus { return membus.New(membus.Partitions(1)) })
}

func TestRevokedDeliveryCannotSettle(t *testing.T) {
	ctx := context.Background()
	b := membus.New()
	closeOnCleanup(t, b)
	if err := b.Publish(ctx, &bus.Message{ID: "m", Topic: "t", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	ch, _ := b.Subscribe(sctx, "t", "g")
	d := <-ch
	cancel()
	for range ch { // wait for the subscription to end and revoke
	}
	ch2, _ := b.Subscribe(ctx, "t", "g")
	d2 := <-ch2
	if d2.Message().ID != "m" {
		t.Fatalf("redelivered %s", d2.Message().ID)
	}
	if err := d.Ack(ctx); !errors.Is(err, membus.ErrRevoked) {
		t.Fatalf("late ack = %v, want ErrRevoked", err)
	}
	if err := d2.Ack(ctx); err != nil {
		t.Fatalf("ack redelivery: %v", err)
	}
	if lag := b.Lag("t")["g"]; lag != 0 {
		t.Fatalf("lag = %d, want 0", lag)
	}
}

func TestGroupMembersShare(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := membus.New(membus.Partitions(4))
	closeOnCleanup(t, b)
	var ms []*bus.Message
	for i := 0; i < 40; i++ {
		ms = append(ms, &bus.Message{ID: string(rune('A' + i)), Topic: "t", Key: string(rune('a' + i%8))})
	}
	if err := b.Publish(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	c1, _ := b.Subscribe(ctx, "t", "g")
	c2, _ := b.Subscribe(ctx, "t", "g")
	seen := map[string]int{}
	per := map[int]int{}
	for len(seen) < len(ms) {
		var d bus.Delivery
		select {
		case d = <-c1:
			per[1]++
		case d = <-c2:
			per[2]++
		}
		seen[d.Message().ID]++
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s delivered %d times", id, n)
		}
	}
	t.Logf("member1=%d member2=%d", per[1], per[2])
}

func TestPublishValidation(t *testing.T) {
	b := membus.New()
	closeOnCleanup(t, b)
	tests := []struct {
		name string
		m    *bus.Message
		want error
	}{
		{"nil", nil, membus.ErrNilMessage},
		{"no topic", &bus.Message{ID: "x"}, membus.ErrNoTopic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.Publish(context.Background(), tt.m); !errors.Is(err, tt.want) {
				t.Fatalf("Publish = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestConsumeWithMiddleware(t *testing.T) {
	// Consume + DeadLetter + Retry over membus: a poison message lands on
	// the DLQ with its attempts and the good ones are processed.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := membus.New()
	closeOnCleanup(t, b)
	in := []*bus.Message{
		{ID: "ok-1", Topic: "orders", Key: "k"},
		{ID: "poison", Topic: "orders", Key: "k"},
		{ID: "ok-2", Topic: "orders", Key: "k"},
	}
	if err := b.Publish(ctx, in...); err != nil {
		t.Fatal(err)
	}
	processed := make(chan string, 3)
	h := bus.Chain(func(_ context.Context, m *bus.Message) error {
		if m.ID == "poison" {
			return errors.New("cannot decode")
		}
		processed <- m.ID
		return nil
	}, bus.DeadLetter(b, "orders.dlq", "g"), bus.Retry(3, nil, nil))
	done := make(chan error, 1)
	go func() { done <- bus.Consume(ctx, b, "orders", "g", h) }()
	dlq, _ := b.Subscribe(ctx, "orders.dlq", "audit")
	d := <-dlq
	if d.Message().ID != "poison" || d.Message().Header(bus.HeaderDLQAttempts) != "3" {
		t.Fatalf("dlq got %s attempts %s", d.Message().ID, d.Message().Header(bus.HeaderDLQAttempts))
	}
	if a, c := <-processed, <-processed; a != "ok-1" || c != "ok-2" {
		t.Fatalf("processed %s, %s", a, c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume = %v", err)
	}
}

// closeOnCleanup closes b when the test ends and fails the test if Close
// does: none of these tests closes the bus itself.
func closeOnCleanup(tb testing.TB, b *membus.Bus) {
	tb.Helper()
	tb.Cleanup(func() {
		if err := b.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
}
