package bus_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

// A consumer with the usual chain: dead-letter outermost, then in-process
// retry, then inbox deduplication around the handler.
func ExampleConsume() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := membus.New()
	defer func() { _ = b.Close() }() // in memory; only a second Close fails

	_ = b.Publish(ctx,
		&bus.Message{ID: "1", Topic: "orders", Key: "o-1", Payload: []byte("ok")},
		&bus.Message{ID: "1", Topic: "orders", Key: "o-1", Payload: []byte("ok")}, // duplicate
		&bus.Message{ID: "2", Topic: "orders", Key: "o-1", Payload: []byte("garbage")},
	)

	handled := make(chan string, 3)
	h := bus.Chain(func(_ context.Context, m *bus.Message) error {
		if string(m.Payload) == "garbage" {
			return bus.Permanent(errors.New("cannot decode"))
		}
		handled <- m.ID
		return nil
	},
		bus.DeadLetter(b, "orders.dlq", "billing"),
		bus.Retry(3, nil, nil),
		bus.Dedup(bus.NewMemoryInbox(), "billing"),
	)
	go func() { _ = bus.Consume(ctx, b, "orders", "billing", h) }()

	dlq, _ := b.Subscribe(ctx, "orders.dlq", "audit")
	d := <-dlq
	fmt.Println("handled:", <-handled)
	fmt.Println("dead-lettered:", d.Message().ID, d.Message().Header(bus.HeaderDLQReason))
	// Output:
	// handled: 1
	// dead-lettered: 2 permanent: cannot decode
}
