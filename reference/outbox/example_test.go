package outbox_test

import (
	"context"
	"fmt"

	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
	"github.com/edkit-dev/edkit/reference/outbox"
)

// A relay publishes what the store holds, in order, and checkpoints what
// the broker confirmed.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := memstore.New()
	defer func() { _ = store.Close() }()
	b := membus.New()
	defer func() { _ = b.Close() }()

	for i, typ := range []string{"OrderPlaced", "OrderPaid", "OrderShipped"} {
		e, _ := event.New(fmt.Sprintf("evt-%d", i+1), typ, "order-42", nil)
		if _, err := store.Append(ctx, "order-42", eventstore.Any, e); err != nil {
			panic(err)
		}
	}
	deliveries, _ := b.Subscribe(ctx, "orders", "billing")

	cp := outbox.NewMemoryCheckpoint()
	relay, _ := outbox.New(store, b, cp, outbox.WithRoute(func(e event.Envelope) (string, string) {
		return "orders", outbox.DefaultKey(e)
	}))
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()

	for range 3 {
		d := <-deliveries
		fmt.Println(d.Message().ID, d.Message().Key, d.Message().Header("edkit-type"))
		_ = d.Ack(ctx)
	}
	cancel()
	if err := <-done; err != nil {
		fmt.Println("relay:", err)
	}
	pos, _ := cp.Load(context.Background())
	fmt.Println("checkpoint", pos)
	// Output:
	// evt-1 order-42 OrderPlaced
	// evt-2 order-42 OrderPaid
	// evt-3 order-42 OrderShipped
	// checkpoint 3
}
