package kafkabus_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
)

// TestBrowseShowsWhatTheGroupHasNotCommitted publishes six messages over
// two partitions, lets the group consume and ack two, and browses: the four
// others come back, and again on a second browse (browsing moves nothing).
func TestBrowseShowsWhatTheGroupHasNotCommitted(t *testing.T) {
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := kafkabus.New(brokers, kafkabus.AutoCreateTopics(2))
	if err != nil {
		t.Fatal(err)
	}
	closeOnCleanup(t, b)
	topic := bustest.Topic(t, "browse")
	if err := b.EnsureTopics(ctx, 2, topic); err != nil {
		t.Fatal(err)
	}
	var ms []*bus.Message
	for i := range 6 {
		ms = append(ms, &bus.Message{ID: fmt.Sprintf("m%d", i), Topic: topic, Key: fmt.Sprintf("k%d", i%2), Payload: []byte("x"),
			Headers: map[string]string{bus.HeaderDLQReason: "boom"}})
	}
	if err := b.Publish(ctx, ms...); err != nil {
		t.Fatal(err)
	}

	sctx, stop := context.WithCancel(ctx)
	ch, err := b.Subscribe(sctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	for range 2 {
		d := bustest.Next(ctx, t, ch)
		acked[d.Message().ID] = true
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	for range ch { // the subscription's final commit happens before its channel closes
	}

	var want []string
	for _, m := range ms {
		if !acked[m.ID] {
			want = append(want, m.ID)
		}
	}
	for round := 1; round <= 2; round++ {
		got, err := b.Browse(ctx, topic, "g", 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range got {
			ids = append(ids, m.ID)
			if m.Header(bus.HeaderDLQReason) != "boom" || m.Topic != topic {
				t.Fatalf("browsed message lost its headers or topic: %+v", m)
			}
		}
		sort.Strings(ids)
		if !slices.Equal(ids, want) {
			t.Fatalf("browse round %d: %v, want %v (acked %v)", round, ids, want, acked)
		}
	}
	if got, err := b.Browse(ctx, topic, "g", 1); err != nil || len(got) != 1 {
		t.Fatalf("browse with limit 1: %d messages, %v", len(got), err)
	}
	if got, err := b.Browse(ctx, "no-such-topic-"+topic, "g", 0); err != nil || len(got) != 0 {
		t.Fatalf("browse of a missing topic: %v %v, want nothing", got, err)
	}
}
