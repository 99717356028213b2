package shop

import (
	"fmt"

	"github.com/edkit-dev/edkit/reference/event"
)

// Order statuses, as the order aggregate and the summary read model name them.
const (
	StatusPlaced    = "placed"
	StatusConfirmed = "confirmed"
	StatusCancelled = "cancelled"
)

// Order is the order aggregate's state, folded from its stream.
type Order struct {
	ID          string
	Status      string
	Customer    string
	Items       []Item
	AmountCents int64
}

// InitialOrder is an order that has not been placed.
func InitialOrder() Order { return Order{} }

// EvolveOrder folds one event of an order stream.
func EvolveOrder(o Order, e event.Envelope) (Order, error) {
	switch e.Type {
	case EvtOrderPlaced:
		var p OrderPlaced
		if err := e.Decode(&p); err != nil {
			return o, err
		}
		return Order{ID: p.OrderID, Status: StatusPlaced, Customer: p.Customer, Items: p.Items, AmountCents: p.AmountCents}, nil
	case EvtOrderConfirmed:
		o.Status = StatusConfirmed
	case EvtOrderCancelled:
		o.Status = StatusCancelled
	default:
		return o, fmt.Errorf("shop: order stream holds unexpected event %s", e.Type)
	}
	return o, nil
}

// DecideOrder turns a command into the events that record it, or a domain
// error. Deciding again on an order already in the target state yields no
// events, so redelivered commands are harmless.
func DecideOrder(o Order, c Command) ([]event.Envelope, error) {
	stream := OrderStream(c.OrderID)
	switch c.Type {
	case CmdPlaceOrder:
		if o.Status != "" {
			return nil, nil
		}
		e, err := event.New("", EvtOrderPlaced, stream, OrderPlaced{OrderID: c.OrderID, Customer: c.Customer, Items: c.Items, AmountCents: c.AmountCents})
		return []event.Envelope{e}, err
	case CmdConfirmOrder, CmdCancelOrder:
		switch {
		case o.Status == "":
			return nil, fmt.Errorf("%w: %s", ErrOrderNotFound, c.OrderID)
		case c.Type == CmdConfirmOrder && o.Status == StatusConfirmed,
			c.Type == CmdCancelOrder && o.Status == StatusCancelled:
			return nil, nil
		case o.Status != StatusPlaced:
			return nil, fmt.Errorf("%w: %s is %s", ErrOrderClosed, c.OrderID, o.Status)
		}
		typ := EvtOrderConfirmed
		if c.Type == CmdCancelOrder {
			typ = EvtOrderCancelled
		}
		e, err := event.New("", typ, stream, OrderRef{OrderID: c.OrderID, Reason: c.Reason})
		return []event.Envelope{e}, err
	}
	return nil, fmt.Errorf("%w: the order aggregate does not handle %s", ErrInvalidCommand, c.Type)
}
