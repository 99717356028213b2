package shop

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Topics the shop speaks on. Commands and events are keyed by order ID, so
// everything about one order stays in order on a partitioned broker.
const (
	TopicCommands = "shop.commands"
	TopicEvents   = "shop.events"
	TopicDLQ      = "shop.dlq"
)

// Consumer groups of the shop's services.
const (
	GroupCommands   = "command-service"
	GroupSaga       = "order-saga"
	GroupProjection = "order-summary"
)

// Command types.
const (
	CmdPlaceOrder    = "PlaceOrder"
	CmdReserveStock  = "ReserveStock"
	CmdReleaseStock  = "ReleaseStock"
	CmdChargePayment = "ChargePayment"
	CmdConfirmOrder  = "ConfirmOrder"
	CmdCancelOrder   = "CancelOrder"
)

// Event types.
const (
	EvtOrderPlaced            = "OrderPlaced"
	EvtOrderConfirmed         = "OrderConfirmed"
	EvtOrderCancelled         = "OrderCancelled"
	EvtStockReserved          = "StockReserved"
	EvtStockReservationFailed = "StockReservationFailed"
	EvtStockReleased          = "StockReleased"
	EvtPaymentCharged         = "PaymentCharged"
	EvtPaymentDeclined        = "PaymentDeclined"
)

// Item is one order line.
type Item struct {
	SKU string `json:"sku" yaml:"sku"`
	Qty int    `json:"qty" yaml:"qty"`
}

// Command is the body of every shop command. One struct for all types keeps
// the wire format flat and lets scenario files write commands as plain maps;
// Validate checks the fields each type needs.
type Command struct {
	Type        string `json:"type" yaml:"type"`
	OrderID     string `json:"orderId" yaml:"orderId"`
	Customer    string `json:"customer,omitempty" yaml:"customer,omitempty"`
	Items       []Item `json:"items,omitempty" yaml:"items,omitempty"`
	AmountCents int64  `json:"amountCents,omitempty" yaml:"amountCents,omitempty"`
	Reason      string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// Note is free text carried with the order; load runs use it to set the
	// message size.
	Note string `json:"note,omitempty" yaml:"note,omitempty"`
}

// Validate reports what the command lacks for its type.
func (c Command) Validate() error {
	var missing []string
	if c.OrderID == "" {
		missing = append(missing, "orderId")
	}
	switch c.Type {
	case CmdPlaceOrder:
		if c.Customer == "" {
			missing = append(missing, "customer")
		}
		if len(c.Items) == 0 {
			missing = append(missing, "items")
		}
		for i, it := range c.Items {
			if it.SKU == "" || it.Qty <= 0 {
				missing = append(missing, fmt.Sprintf("items[%d] (sku and qty > 0)", i))
			}
		}
		if c.AmountCents <= 0 {
			missing = append(missing, "amountCents > 0")
		}
	case CmdReserveStock, CmdReleaseStock, CmdConfirmOrder, CmdCancelOrder, CmdChargePayment:
	case "":
		return fmt.Errorf("%w: command has no type", ErrInvalidCommand)
	default:
		return fmt.Errorf("%w: unknown command type %q", ErrInvalidCommand, c.Type)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s needs %s", ErrInvalidCommand, c.Type, strings.Join(missing, ", "))
	}
	return nil
}

// DecodeCommand parses and validates a command payload.
func DecodeCommand(payload []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(payload, &c); err != nil {
		return Command{}, fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	if err := c.Validate(); err != nil {
		return Command{}, err
	}
	return c, nil
}

// Event bodies.

// OrderPlaced opens an order.
type OrderPlaced struct {
	OrderID     string `json:"orderId"`
	Customer    string `json:"customer"`
	Items       []Item `json:"items"`
	AmountCents int64  `json:"amountCents"`
}

// OrderRef is the body of events that only name their order.
type OrderRef struct {
	OrderID string `json:"orderId"`
	Reason  string `json:"reason,omitempty"`
}

// PaymentCharged records money taken.
type PaymentCharged struct {
	OrderID     string `json:"orderId"`
	AmountCents int64  `json:"amountCents"`
	ChargeID    string `json:"chargeId"`
}

// Stream names. Each order owns three streams, one per service, so that each
// service appends under its own optimistic-concurrency guard.
func OrderStream(id string) string   { return "order-" + id }
func StockStream(id string) string   { return "stock-" + id }
func PaymentStream(id string) string { return "payment-" + id }
func SagaStream(id string) string    { return "saga-" + id }

// CorrelationID ties every event a command causes to its order, so the
// relay keys them by order and the saga finds its instance.
func (c Command) CorrelationID() string { return c.OrderID }
