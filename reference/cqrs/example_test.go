package cqrs_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/edkit-dev/edkit/reference/cqrs"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
)

// errOverdrawn is the account's domain rejection.
var errOverdrawn = errors.New("account: overdrawn")

// account is a tiny aggregate: a balance that may not go negative.
type account struct{ balance int }

type withdraw struct{ amount int }

type deposit struct{ amount int }

var accountDecider = cqrs.Decider[account, any]{
	Initial: func() account { return account{} },
	Evolve: func(a account, e event.Envelope) (account, error) {
		var body struct{ Amount int }
		if err := e.Decode(&body); err != nil {
			return a, err
		}
		switch e.Type {
		case "Deposited":
			a.balance += body.Amount
		case "Withdrawn":
			a.balance -= body.Amount
		}
		return a, nil
	},
	Decide: func(a account, cmd any) ([]event.Envelope, error) {
		switch c := cmd.(type) {
		case deposit:
			e, err := event.New("", "Deposited", "", map[string]int{"Amount": c.amount})
			return []event.Envelope{e}, err
		case withdraw:
			if c.amount > a.balance {
				return nil, errOverdrawn
			}
			e, err := event.New("", "Withdrawn", "", map[string]int{"Amount": c.amount})
			return []event.Envelope{e}, err
		}
		return nil, fmt.Errorf("unknown command %T", cmd)
	},
}

func Example() {
	ctx := context.Background()
	store := memstore.New()
	defer func() { _ = store.Close() }() // in memory; only a second Close fails
	h := cqrs.NewHandler(store, accountDecider)

	r, _ := h.Handle(ctx, "account-1", "cmd-1", deposit{amount: 100})
	fmt.Println("deposit:", r.Events[0].ID, "version", r.Version)

	// The same command delivered again is answered from the stream.
	r, _ = h.Handle(ctx, "account-1", "cmd-1", deposit{amount: 100})
	fmt.Println("redelivered:", r.Duplicate, "version", r.Version)

	_, err := h.Handle(ctx, "account-1", "cmd-2", withdraw{amount: 500})
	fmt.Println("overdraw rejected:", errors.Is(err, errOverdrawn))

	state, version, _ := h.Repository().Load(ctx, "account-1")
	fmt.Println("balance", state.balance, "at version", version)
	// Output:
	// deposit: cmd-1/0 version 1
	// redelivered: true version 1
	// overdraw rejected: true
	// balance 100 at version 1
}
