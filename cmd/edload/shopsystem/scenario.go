package shopsystem

// The glue that lets edkit run the shop's scenario files
// (scenarios/shop/*.yaml): the types they name, their setup, and how a
// command, a view and a deadline reach the shop.

import (
	"context"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/shop"
	"github.com/edkit-dev/edkit/scenarios"
)

// PlaceOrder is a scenario's "PlaceOrder" command; the step's id is its
// command ID, so `times: 2` is a client's retry.
type PlaceOrder struct {
	OrderID     string      `json:"orderId"`
	Customer    string      `json:"customer"`
	Items       []shop.Item `json:"items"`
	AmountCents int64       `json:"amountCents"`
}

// Setup is a scenario file's `setup:` section: the shop's downstream
// doubles and its retry budget.
type Setup struct {
	// Stock is on hand per SKU; a SKU not named has none.
	Stock map[string]int `json:"stock"`
	// Declined are customers the gateway declines; LimitCents, when set,
	// declines any charge above it.
	Declined   []string `json:"declined"`
	LimitCents int64    `json:"limitCents"`
	// MaxAttempts bounds retries before a message is dead-lettered.
	MaxAttempts int `json:"maxAttempts"`
}

func (st *Setup) downstream() (*shop.MemoryInventory, *shop.MemoryGateway, int) {
	return shop.NewMemoryInventory(st.Stock, false), shop.NewMemoryGateway(st.LimitCents, st.Declined...), st.MaxAttempts
}

var (
	_ scenarios.Speaker      = (*System)(nil)
	_ scenarios.Configurable = (*System)(nil)
	_ scenarios.Dispatcher   = (*instance)(nil)
	_ scenarios.EventStorer  = (*instance)(nil)
	_ scenarios.Viewer       = (*instance)(nil)
	_ scenarios.Deadlines    = (*instance)(nil)
	_ harness.Idler          = (*instance)(nil)
)

// Vocabulary is what the shop's scenario files may name.
func (s *System) Vocabulary() *scenarios.Vocabulary {
	v := &scenarios.Vocabulary{}
	scenarios.Define[PlaceOrder](v, scenarios.KindCommand, shop.CmdPlaceOrder)
	scenarios.Define[shop.OrderPlaced](v, scenarios.KindEvent, shop.EvtOrderPlaced)
	scenarios.Define[shop.Command](v, scenarios.KindMessage, "Command")
	return scenarios.Setup[Setup](v)
}

// Configure is the shop a file's setup describes.
func (s *System) Configure(setup any) (harness.System, error) {
	st, ok := setup.(*Setup)
	if !ok {
		return nil, fmt.Errorf("shop: setup %T", setup)
	}
	return &System{cfg: s.cfg, setup: st}, nil
}

// Dispatch sends a scenario's command through the command service.
func (in *instance) Dispatch(ctx context.Context, id string, cmd any) error {
	c, ok := cmd.(*PlaceOrder)
	if !ok {
		return fmt.Errorf("shop: no command %T", cmd)
	}
	in.mu.Lock()
	if !in.isPlaced[c.OrderID] { // a retry (`times: 2`) places the same order
		if in.isPlaced == nil {
			in.isPlaced = map[string]bool{}
		}
		in.isPlaced[c.OrderID] = true
		in.placed = append(in.placed, c.OrderID)
	}
	in.mu.Unlock()
	return in.svc.Send(ctx, id, shop.Command{Type: shop.CmdPlaceOrder, OrderID: c.OrderID, Customer: c.Customer,
		Items: c.Items, AmountCents: c.AmountCents})
}

// EventStore is the shop's store.
func (in *instance) EventStore() eventstore.Store { return in.store }

// Idle says the outbox relay has published every stored event.
func (in *instance) Idle() bool { return in.svc.Relayed() >= in.store.LastPosition() }

// NextDeadline is the sagas' earliest pending deadline.
func (in *instance) NextDeadline() (time.Time, bool) { return in.svc.NextDeadline() }

// Rows of the shop's views other than the order summary.
type (
	ChargesRow struct {
		Count int `json:"count"`
	}
	StockRow struct {
		OnHand int `json:"onHand"`
	}
	OrdersRow struct {
		Count int `json:"count"`
	}
)

// View reads the shop's state: "order" (the order-summary read model) by
// order ID, "charges" (the gateway) by order ID, "stock" (the inventory)
// by SKU, and "orders" (how many the read model holds) by "all".
func (in *instance) View(_ context.Context, name, id string) (any, bool, error) {
	switch name {
	case "order":
		row, ok := in.svc.Summaries().Get(id)
		return row, ok, nil
	case "charges":
		return ChargesRow{in.gw.Charges(id)}, true, nil
	case "stock":
		return StockRow{in.inv.OnHand(id)}, true, nil
	case "orders":
		return OrdersRow{len(in.svc.Summaries().All())}, id == "all", nil
	}
	return nil, false, fmt.Errorf("shop: no view %q (want order, charges, stock or orders)", name)
}
