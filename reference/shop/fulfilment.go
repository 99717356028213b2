package shop

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/saga"
)

// Step names of the order-fulfilment saga.
const (
	StepPlaceOrder    = "place-order"
	StepReserveStock  = "reserve-stock"
	StepChargePayment = "charge-payment"
)

// PaymentDeadline names the fulfilment saga's deadline for the payment:
// set when stock is reserved and payment asked for, cancelled when the
// payment answers; when it fires first, the saga gives up on the payment
// and compensates as for a declined one.
const PaymentDeadline = "payment"

// PaymentTimeout is how long the saga waits for the payment to answer.
const PaymentTimeout = 30 * time.Minute

// Fulfilment is the order-fulfilment saga: place the order, reserve stock,
// charge payment; on failure undo done steps in reverse (release stock, then
// cancel the order); on success confirm the order. A payment that does not
// answer within PaymentTimeout is a failure; one that answers after the
// saga ended is ignored (IgnoreLate).
var Fulfilment = saga.Definition{Name: "order-fulfilment", Steps: []saga.Step{
	{Name: StepPlaceOrder, Compensation: CmdCancelOrder},
	{Name: StepReserveStock, Compensation: CmdReleaseStock},
	{Name: StepChargePayment},
}}

// React decides the saga's next transition for an event of its order, and
// the commands to send. ok is false for events the saga does not act on.
// Command IDs are derived from the order and the step, so a re-sent command
// is recognised downstream as the same command.
func React(s saga.State, e event.Envelope) (t saga.Transition, ok bool, err error) {
	t.Cause = e.ID
	var order OrderPlaced
	if len(s.Data) > 0 {
		if err := json.Unmarshal(s.Data, &order); err != nil {
			return t, false, fmt.Errorf("shop: saga data: %w", err)
		}
	}
	send := func(c Command) error {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		t.Commands = append(t.Commands, b)
		return nil
	}
	compensateNext := func(after saga.State) error {
		b, err := compensation(after, order.OrderID)
		if b != nil {
			t.Commands = append(t.Commands, b)
		}
		return err
	}
	switch e.Type {
	case EvtOrderPlaced:
		if err := e.Decode(&order); err != nil {
			return t, false, err
		}
		t.Data = e.Data
		t.Done = StepPlaceOrder
		err = send(Command{Type: CmdReserveStock, OrderID: order.OrderID, Items: order.Items})
	case EvtStockReserved:
		t.Done = StepReserveStock
		t.Schedule = []saga.Deadline{{Name: PaymentDeadline, At: e.Time.Add(PaymentTimeout)}}
		err = send(Command{Type: CmdChargePayment, OrderID: order.OrderID, Customer: order.Customer, AmountCents: order.AmountCents})
	case EvtPaymentCharged:
		t.Done = StepChargePayment
		t.Cancel = []string{PaymentDeadline}
		err = send(Command{Type: CmdConfirmOrder, OrderID: order.OrderID})
	case EvtStockReservationFailed, EvtPaymentDeclined:
		if e.Type == EvtPaymentDeclined {
			t.Cancel = []string{PaymentDeadline}
		}
		var ref OrderRef
		if err := e.Decode(&ref); err != nil {
			return t, false, err
		}
		t.Failed = ref.Reason
		if t.Failed == "" {
			t.Failed = e.Type
		}
		after, aerr := Fulfilment.Apply(s, t)
		if aerr != nil {
			return t, false, aerr
		}
		err = compensateNext(after)
	case EvtStockReleased:
		t.Compensated = StepReserveStock
		after, aerr := Fulfilment.Apply(s, t)
		if aerr != nil {
			return t, false, aerr
		}
		err = compensateNext(after)
	case EvtOrderCancelled:
		if s.Status != saga.Compensating {
			return t, false, nil
		}
		t.Compensated = StepPlaceOrder
	default:
		return t, false, nil
	}
	return t, err == nil, err
}

// OnDeadline decides the saga's transition when deadline d fires: the
// payment deadline fails the saga and starts compensation, as a declined
// payment does.
func OnDeadline(s saga.State, d saga.Deadline) (saga.Transition, error) {
	t := saga.Transition{Cause: d.Cause(), Fired: d.Name}
	if d.Name != PaymentDeadline {
		return t, fmt.Errorf("shop: the fulfilment saga sets no deadline %q", d.Name)
	}
	var order OrderPlaced
	if err := json.Unmarshal(s.Data, &order); err != nil {
		return t, fmt.Errorf("shop: saga data: %w", err)
	}
	t.Failed = "payment timed out"
	after, err := Fulfilment.Apply(s, t)
	if err != nil {
		return t, err
	}
	b, err := compensation(after, order.OrderID)
	if b != nil {
		t.Commands = append(t.Commands, b)
	}
	return t, err
}

// compensation is the next compensating command of a failed saga, nil
// when nothing is left to undo.
func compensation(after saga.State, orderID string) ([]byte, error) {
	st, more := Fulfilment.NextCompensation(after)
	if !more {
		return nil, nil
	}
	return json.Marshal(Command{Type: st.Compensation, OrderID: orderID, Reason: after.Reason})
}

// CommandID is the deterministic ID of the command a saga sends for an order.
func CommandID(c Command) string { return c.OrderID + "/" + c.Type }
