package router_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/bus/router"
)

// A group consuming two topics: payments by topic, orders by the kind field
// of their payload; an order of an unknown kind dead-letters.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := membus.New()
	defer func() { _ = b.Close() }() // in memory; only a second Close fails

	handled := make(chan string, 3)
	orders := router.ByField("order.kind")
	_ = orders.Route("new", func(_ context.Context, m *bus.Message) error { handled <- "new order " + m.ID; return nil })
	r := router.New(b, "shop", router.WithMiddleware(bus.DeadLetter(b, "shop.dlq", "shop")))
	_ = r.Handle("orders", orders.Handle)
	_ = r.Handle("payments", func(_ context.Context, m *bus.Message) error { handled <- "payment " + m.ID; return nil })
	go func() { _ = r.Run(ctx) }()

	_ = b.Publish(ctx,
		&bus.Message{ID: "o1", Topic: "orders", Key: "a", Payload: []byte(`{"order":{"kind":"new"}}`)},
		&bus.Message{ID: "o2", Topic: "orders", Key: "a", Payload: []byte(`{"order":{"kind":"gift"}}`)},
	)
	fmt.Println(<-handled)
	_ = b.Publish(ctx, &bus.Message{ID: "p1", Topic: "payments", Key: "a"})
	fmt.Println(<-handled)

	dlq, _ := b.Subscribe(ctx, "shop.dlq", "audit")
	select {
	case d := <-dlq:
		fmt.Println("dead-lettered:", d.Message().ID, d.Message().Header(bus.HeaderDLQReason))
	case <-time.After(time.Minute):
	}
	// Output:
	// new order o1
	// payment p1
	// dead-lettered: o2 permanent: router: no route for field "order.kind" = "gift"
}
