package shopsystem_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/cqrs"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/saga"
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

func fulfilment() fixture.Saga {
	return fixture.Saga{Definition: shop.Fulfilment, React: shop.React, OnDeadline: shop.OnDeadline}
}

func ref(typ, id, reason string) event.Envelope {
	return fixture.Event(typ, shop.OrderRef{OrderID: id, Reason: reason})
}

func TestFulfilmentSaga(t *testing.T) {
	placedThenReserved := fixture.ForSaga(t, fulfilment()).Given(placed("o-1"), ref(shop.EvtStockReserved, "o-1", ""))
	release := shop.Command{Type: shop.CmdReleaseStock, OrderID: "o-1", Reason: "payment timed out"}

	fixture.ForSaga(t, fulfilment()).Given(placed("o-1")).
		When(ref(shop.EvtStockReserved, "o-1", "")).
		ThenDispatched(shop.Command{Type: shop.CmdChargePayment, OrderID: "o-1", Customer: "alice", AmountCents: 1200}).
		ThenScheduled(shop.PaymentDeadline, shop.PaymentTimeout)
	placedThenReserved.
		When(ref(shop.EvtPaymentCharged, "o-1", "")).
		ThenDispatched(shop.Command{Type: shop.CmdConfirmOrder, OrderID: "o-1"}).
		ThenCancelled(shop.PaymentDeadline).
		ThenStatus(saga.Completed)
	// The payment never answers: after 30 minutes of virtual time the
	// deadline fires and the saga compensates, releasing the stock.
	placedThenReserved.WhenTimeElapses(shop.PaymentTimeout - time.Second).ThenNothingDispatched().ThenStatus(saga.Running)
	placedThenReserved.
		WhenTimeElapses(shop.PaymentTimeout).
		ThenDispatched(release).
		ThenStatus(saga.Compensating)
	placedThenReserved.GivenTimeElapsed(time.Hour).
		When(ref(shop.EvtStockReleased, "o-1", "")).
		ThenDispatched(shop.Command{Type: shop.CmdCancelOrder, OrderID: "o-1", Reason: "payment timed out"})
	// A payment that answers after the saga gave up changes nothing.
	placedThenReserved.GivenTimeElapsed(time.Hour).Given(ref(shop.EvtStockReleased, "o-1", ""), ref(shop.EvtOrderCancelled, "o-1", "")).
		When(ref(shop.EvtPaymentCharged, "o-1", "")).
		ThenNothingDispatched().
		ThenStatus(saga.Compensated)
}

// TestBrokenSagaFailsItsFixture: a saga that skips compensation (it
// decides the failure but sends no undo) fails the fixture, which names
// the command it did not send.
func TestBrokenSagaFailsItsFixture(t *testing.T) {
	broken := fulfilment()
	broken.OnDeadline = func(s saga.State, d saga.Deadline) (saga.Transition, error) {
		tr, err := shop.OnDeadline(s, d)
		tr.Commands = nil // the bug
		return tr, err
	}
	var r failures
	fixture.ForSaga(&r, broken).Given(placed("o-1"), ref(shop.EvtStockReserved, "o-1", "")).
		WhenTimeElapses(time.Hour).
		ThenDispatched(shop.Command{Type: shop.CmdReleaseStock, OrderID: "o-1", Reason: "payment timed out"})
	if len(r) != 1 || !strings.Contains(r[0], `command 1: missing, want {"type":"ReleaseStock","orderId":"o-1"`) {
		t.Fatalf("the fixture reported %q; want the missing ReleaseStock named", r)
	}
}

// failures is a fixture.T that keeps what it is told.
type failures []string

func (f *failures) Helper()                        {}
func (f *failures) Errorf(format string, a ...any) { *f = append(*f, fmt.Sprintf(format, a...)) }
