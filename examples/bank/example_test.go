package bank_test

import (
	"context"
	"fmt"

	"github.com/edkit-dev/edkit/examples/bank"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

// A transfer on an in-memory bus: the saga debits alice, credits bob and
// says so when it ends.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	mb := membus.New()
	ended := make(chan string, 1)
	b := bank.NewBank(mb, bank.OnEnded(func(id, state string) { ended <- id + " " + state }))
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()

	_ = b.Open(ctx, "alice", 100)
	_ = b.Open(ctx, "bob", 0)
	_ = b.Transfer(ctx, "t-1", "alice", "bob", 30)
	fmt.Println(<-ended)

	cancel()
	fmt.Println(<-done, mb.Close())
	// Output:
	// t-1 completed
	// <nil> <nil>
}
