package kafkabus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
)

// TestConformanceInFlight runs the suite with several unsettled deliveries
// per partition and a commit interval: per-key order, in-place requeue and
// the commit-after-ack rules must hold as with one.
func TestConformanceInFlight(t *testing.T) {
	brokers := startKafka(t)
	const partitions, inFlight = 4, 8
	f := bustest.Features{Name: "kafkabus-inflight", PerKeyOrder: true, GroupPerKeyOrder: true, RequeueInPlace: true,
		// Duplicates as in TestConformance's profile, for the same reason:
		// a rebalance redelivers what was settled but not yet committed,
		// and a commit interval widens that window (1 of 400 was seen in
		// ConcurrentPublishersAndSubscribers while three members joined).
		MaxDuplicates: 50, MaxUnsettled: partitions * inFlight}
	bustest.Run(t, f, func(t *testing.T) bus.Bus {
		t.Helper()
		b, err := kafkabus.New(brokers, kafkabus.AutoCreateTopics(partitions),
			kafkabus.MaxInFlightPerPartition(inFlight), kafkabus.CommitInterval(5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// onePartition starts a Kafka and a bus with four deliveries in flight per
// partition, and publishes "id:key" messages to a new one-partition topic.
func onePartition(t *testing.T, idKeys ...string) (context.Context, *kafkabus.Bus, string) {
	t.Helper()
	ctx := bustest.Context(t, 60*time.Second)
	b, err := kafkabus.New(startKafka(t), kafkabus.AutoCreateTopics(1), kafkabus.MaxInFlightPerPartition(4))
	if err != nil {
		t.Fatal(err)
	}
	closeOnCleanup(t, b)
	topic := bustest.Topic(t, "window")
	for _, ik := range idKeys {
		id, key, _ := strings.Cut(ik, ":")
		if err := b.Publish(ctx, &bus.Message{ID: id, Topic: topic, Key: key}); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, b, topic
}

type positioned interface {
	bus.Delivery
	Offset() int64
}

// TestInFlightNeverCommitsPastAnUnsettledOffset acks later offsets of a
// partition while an earlier one is requeued and then left unsettled: the
// next member of the group must start at the earlier one.
func TestInFlightNeverCommitsPastAnUnsettledOffset(t *testing.T) {
	ctx, b, topic := onePartition(t, "a:a", "b:b", "c:c")
	sctx, scancel := context.WithCancel(ctx)
	ch, err := b.Subscribe(sctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	var got []positioned
	for range 3 { // three keys: all three may be out at once
		got = append(got, bustest.Next(ctx, t, ch).(positioned))
	}
	for i, d := range got {
		if d.Offset() != int64(i) {
			t.Fatalf("delivery %d has offset %d: a partition is handed out in order", i, d.Offset())
		}
	}
	if err := got[0].Nack(ctx, true); err != nil {
		t.Fatal(err)
	}
	for _, d := range got[1:] {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	again := bustest.Next(ctx, t, ch).(positioned)
	if again.Offset() != 0 {
		t.Fatalf("after the requeue got offset %d, want 0 again", again.Offset())
	}
	scancel() // offset 0 left unsettled
	for range ch {
	}
	// A later message, so that a commit past offset 0 shows as a first
	// delivery at a later offset rather than as none.
	if err := b.Publish(ctx, &bus.Message{ID: "d", Topic: topic, Key: "d"}); err != nil {
		t.Fatal(err)
	}
	ch2, err := b.Subscribe(ctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	first := bustest.Next(ctx, t, ch2).(positioned)
	if first.Offset() != 0 {
		t.Fatalf("next member starts at offset %d: the commit skipped unsettled offset 0", first.Offset())
	}
	if err := first.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestInFlightHoldsBackASecondDeliveryOfAKey: two messages of one key in
// one partition are never unsettled together, so concurrent handlers
// cannot settle them out of order; settling the first releases the second.
func TestInFlightHoldsBackASecondDeliveryOfAKey(t *testing.T) {
	ctx, b, topic := onePartition(t, "k1:k", "k2:k", "x:x")
	ch, err := b.Subscribe(ctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	first := bustest.Next(ctx, t, ch)
	if first.Message().ID != "k1" {
		t.Fatalf("first = %s", first.Message().ID)
	}
	// k2 waits for k1, and x (after k2) waits for k2: in-order hand-out.
	select {
	case d := <-ch:
		t.Fatalf("got %s while k1 of the same key was unsettled", d.Message().ID)
	case <-time.After(300 * time.Millisecond):
	}
	if err := first.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"k2", "x"} {
		d := bustest.Next(ctx, t, ch)
		if d.Message().ID != want {
			t.Fatalf("got %s, want %s", d.Message().ID, want)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
