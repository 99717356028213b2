package kafkabus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
)

// TestRebalanceRevokesTheOldOwnersDeliveries: member A holds offset 0 of a
// one-partition topic unsettled while member B joins the group and takes
// the partition, receives offsets 0-4 and acks them. A's late settle must
// not commit (it would move the group's offset back from 5 to 1), and A
// must hand out nothing more of the partition it lost.
func TestRebalanceRevokesTheOldOwnersDeliveries(t *testing.T) {
	ctx := bustest.Context(t, 240*time.Second)
	brokers := startKafka(t)
	b, err := kafkabus.New(brokers, kafkabus.AutoCreateTopics(1))
	if err != nil {
		t.Fatal(err)
	}
	closeOnCleanup(t, b)
	topic := bustest.Topic(t, "rebalance")
	const n = 5
	for i := range n {
		if err := b.Publish(ctx, &bus.Message{ID: string(rune('a' + i)), Topic: topic, Key: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	chA, err := b.Subscribe(ctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	held := bustest.Next(ctx, t, chA).(positioned)
	if held.Offset() != 0 {
		t.Fatalf("A got offset %d first, want 0", held.Offset())
	}

	// Which member gets the partition depends on the random member IDs:
	// join new members until one takes it (A keeps its delivery meanwhile,
	// nobody having committed). Each join has an even chance; the bound
	// on joins makes a false failure one in a million, and the wait per
	// join is long enough for a rebalance on a loaded machine (5 s was
	// not, and missed joins that were merely slow).
	const joins = 20
	var chB <-chan bus.Delivery
	var first bus.Delivery
	for try := 0; first == nil; try++ {
		if try == joins {
			t.Fatalf("no new member took the partition in %d joins", joins)
		}
		bctx, bcancel := context.WithCancel(ctx)
		ch, err := b.Subscribe(bctx, topic, "g")
		if err != nil {
			bcancel()
			t.Fatal(err)
		}
		select {
		case first = <-ch:
			t.Logf("member %d took the partition", try+1)
			chB = ch
			t.Cleanup(bcancel)
		case <-time.After(10 * time.Second):
			bcancel() // A kept the partition; it leaves again
			for range ch {
			}
		case <-ctx.Done():
			bcancel()
			t.Fatal(ctx.Err())
		}
	}
	for i := range n {
		d := first
		if i > 0 {
			d = bustest.Next(ctx, t, chB)
		}
		if got := d.(positioned).Offset(); got != int64(i) {
			t.Fatalf("B got offset %d, want %d", got, i)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitCommitted(ctx, t, brokers[0], topic, n)

	// A settles after losing the partition: the settle is refused, or at
	// least commits nothing.
	err = held.Ack(ctx)
	t.Logf("A's late ack: %v", err)
	if err != nil && !errors.Is(err, kafkabus.ErrRevoked) {
		t.Fatalf("A's late ack = %v, want nil or ErrRevoked", err)
	}
	var more []int64
	for deadline := time.After(2 * time.Second); ; {
		select {
		case d := <-chA:
			more = append(more, d.(positioned).Offset())
			continue
		case <-deadline:
		}
		break
	}
	if got := committed(ctx, t, brokers[0], topic); got != n {
		t.Errorf("committed offset %d after A's late ack, want %d: it moved backwards", got, n)
	}
	if len(more) > 0 {
		t.Errorf("A handed out offsets %v of a partition it lost", more)
	}
}

// committed returns group g's committed offset of partition 0 of topic.
func committed(ctx context.Context, t *testing.T, broker, topic string) int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(broker)}
	resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: "g", Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatal(err)
	}
	ps := resp.Topics[topic]
	if len(ps) != 1 || ps[0].Error != nil {
		t.Fatalf("offset fetch: %+v", resp)
	}
	return ps[0].CommittedOffset
}

// waitCommitted polls until the group has committed want.
func waitCommitted(ctx context.Context, t *testing.T, broker, topic string, want int64) {
	t.Helper()
	for {
		if got := committed(ctx, t, broker, topic); got == want {
			return
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("group never committed %d: %v", want, ctx.Err())
		}
	}
}
