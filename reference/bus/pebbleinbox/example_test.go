package pebbleinbox_test

import (
	"context"
	"fmt"
	"os"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/pebbleinbox"
)

// A handler deduplicated by a Pebble inbox has its effect once per message
// ID, also after the process restarts.
func Example() {
	dir, err := os.MkdirTemp("", "inbox")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ctx := context.Background()
	charge := func(context.Context, *bus.Message) error {
		fmt.Println("charged")
		return nil
	}

	in, err := pebbleinbox.Open(dir)
	if err != nil {
		panic(err)
	}
	h := bus.Chain(charge, bus.Dedup(in, "billing"))
	_ = h(ctx, &bus.Message{ID: "order-42-paid"})
	_ = h(ctx, &bus.Message{ID: "order-42-paid"}) // a duplicate: skipped
	_ = in.Close()

	in, err = pebbleinbox.Open(dir) // after a restart
	if err != nil {
		panic(err)
	}
	defer func() { _ = in.Close() }()
	h = bus.Chain(charge, bus.Dedup(in, "billing"))
	_ = h(ctx, &bus.Message{ID: "order-42-paid"}) // a redelivery: skipped
	seen, _ := in.Processed(ctx, "billing", "order-42-paid")
	fmt.Println("processed:", seen)
	// Output:
	// charged
	// processed: true
}
