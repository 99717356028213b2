package shopsystem_test

import (
	"testing"

	"github.com/edkit-dev/edkit/reference/cqrs"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/shop"
	"github.com/edkit-dev/edkit/scenarios/fixture"
)

// The shop's order aggregate and order-summary projection, on the
// fixtures any user's domain gets.

func orderDecider() cqrs.Decider[shop.Order, shop.Command] {
	return cqrs.Decider[shop.Order, shop.Command]{Initial: shop.InitialOrder, Evolve: shop.EvolveOrder, Decide: shop.DecideOrder}
}

var book = []shop.Item{{SKU: "book", Qty: 1}}

func place(id string) shop.Command {
	return shop.Command{Type: shop.CmdPlaceOrder, OrderID: id, Customer: "alice", Items: book, AmountCents: 1200}
}

func placed(id string) event.Envelope {
	return fixture.Event(shop.EvtOrderPlaced, shop.OrderPlaced{OrderID: id, Customer: "alice", Items: book, AmountCents: 1200})
}

func TestOrderAggregate(t *testing.T) {
	order := fixture.ForAggregate(t, orderDecider())
	order.When(place("o-1")).
		Then(placed("o-1")).
		ThenState(shop.Order{ID: "o-1", Status: shop.StatusPlaced, Customer: "alice", Items: book, AmountCents: 1200})
	order.Given(placed("o-1")).When(place("o-1")).ThenNothing() // a redelivered command
	order.Given(placed("o-1")).
		When(shop.Command{Type: shop.CmdConfirmOrder, OrderID: "o-1"}).
		Then(fixture.Event(shop.EvtOrderConfirmed, shop.OrderRef{OrderID: "o-1"}))
	order.GivenCommands(place("o-1"), shop.Command{Type: shop.CmdCancelOrder, OrderID: "o-1", Reason: "declined"}).
		When(shop.Command{Type: shop.CmdConfirmOrder, OrderID: "o-1"}).
		ThenError(shop.ErrOrderClosed)
	order.When(shop.Command{Type: shop.CmdConfirmOrder, OrderID: "o-2"}).ThenError(shop.ErrOrderNotFound)
}

func TestOrderSummaryProjection(t *testing.T) {
	summaries := fixture.Projection[*shop.Summaries]{
		New:   shop.NewSummaries,
		Apply: func(s *shop.Summaries, e event.Envelope) error { _, err := s.Apply(e); return err },
		View:  func(s *shop.Summaries) any { return s.All() },
	}
	order := fixture.InStream(shop.OrderStream("o-1"), placed("o-1"),
		fixture.Event(shop.EvtOrderCancelled, shop.OrderRef{OrderID: "o-1", Reason: "payment declined"}))
	stock := fixture.InStream(shop.StockStream("o-1"),
		fixture.Event(shop.EvtStockReserved, shop.OrderRef{OrderID: "o-1"}),
		fixture.Event(shop.EvtStockReleased, shop.OrderRef{OrderID: "o-1"}))
	fixture.ForProjection(t, summaries).
		Given(order[0], stock[0], order[1], stock[1]).
		ThenView([]shop.OrderSummary{{OrderID: "o-1", Customer: "alice", Status: shop.StatusCancelled, AmountCents: 1200,
			StockReserved: true, StockReleased: true, Reason: "payment declined", Events: 4}})
}
