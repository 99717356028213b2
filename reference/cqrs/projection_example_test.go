package cqrs_test

import (
	"context"
	"fmt"
	"strconv"

	"github.com/edkit-dev/edkit/reference/cqrs"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
)

func ExampleProjectionRunner() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := memstore.New()
	defer func() { _ = store.Close() }() // in memory; only a second Close fails
	for i, amount := range []int{10, 5, 7} {
		e, _ := event.New(fmt.Sprintf("deposit-%d", i), "Deposited", "account-1", map[string]int{"Amount": amount})
		_, _ = store.Append(ctx, "account-1", eventstore.Any, e)
	}

	// The total of all deposits. Apply only reads storage and returns
	// its writes; the runner stores them with the checkpoint.
	total := cqrs.ProjectionFunc(func(s cqrs.Storage, e event.Envelope) (map[string][]byte, error) {
		var body struct{ Amount int }
		if err := e.Decode(&body); err != nil {
			return nil, err
		}
		v, _ := s.Get("total")
		n, _ := strconv.Atoi(string(v))
		return map[string][]byte{"total": []byte(strconv.Itoa(n + body.Amount))}, nil
	})

	var storage cqrs.MemoryStorage
	last := store.LastPosition()
	r := cqrs.NewProjectionRunner(store, &storage, "totals", total, cqrs.WithOnApplied(func(e event.Envelope) {
		if e.Position == last {
			cancel() // caught up: stop, as a shutdown would
		}
	}))
	err := r.Run(ctx) // nil once ctx is cancelled
	v, _ := storage.Get("total")
	cp, _ := r.Checkpoint()
	fmt.Println("run:", err, "total", string(v), "checkpoint", cp)

	// The log delivers at least once; an event again changes nothing.
	again, _ := store.ReadAll(context.Background(), 1, 1)
	_ = r.HandleEvent(again[0])
	v, _ = storage.Get("total")
	fmt.Println("after redelivery: total", string(v))
	// Output:
	// run: <nil> total 22 checkpoint 3
	// after redelivery: total 22
}
