package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/shop"
)

// handleCommand is the command service: it decodes a command and routes it
// to the order aggregate, the inventory or the payment gateway. A payload
// that cannot be decoded is an error like any other: it is retried, then
// dead-lettered with its reason, never dropped.
func (s *Shop) handleCommand(ctx context.Context, m *bus.Message) error {
	c, err := shop.DecodeCommand(m.Payload)
	if err != nil {
		return fmt.Errorf("command %s: %w", m.ID, err)
	}
	meta := map[string]string{event.MetaCorrelationID: c.OrderID, event.MetaCausationID: m.ID}
	switch c.Type {
	case shop.CmdPlaceOrder, shop.CmdConfirmOrder, shop.CmdCancelOrder:
		return s.handleOrder(ctx, m.ID, c)
	case shop.CmdReserveStock:
		typ, body := shop.EvtStockReserved, any(shop.OrderRef{OrderID: c.OrderID})
		if err := s.cfg.Inventory.Reserve(ctx, c.OrderID, c.Items); err != nil {
			if !errors.Is(err, shop.ErrOutOfStock) {
				return err
			}
			typ, body = shop.EvtStockReservationFailed, shop.OrderRef{OrderID: c.OrderID, Reason: err.Error()}
		}
		return s.record(ctx, shop.StockStream(c.OrderID), m.ID, typ, body, meta)
	case shop.CmdReleaseStock:
		if err := s.cfg.Inventory.Release(ctx, c.OrderID); err != nil {
			return err
		}
		return s.record(ctx, shop.StockStream(c.OrderID), m.ID, shop.EvtStockReleased, shop.OrderRef{OrderID: c.OrderID}, meta)
	case shop.CmdChargePayment:
		id, err := s.cfg.Gateway.Charge(ctx, c.OrderID, c.Customer, c.AmountCents)
		if errors.Is(err, shop.ErrDeclined) {
			return s.record(ctx, shop.PaymentStream(c.OrderID), m.ID, shop.EvtPaymentDeclined, shop.OrderRef{OrderID: c.OrderID, Reason: err.Error()}, meta)
		}
		if err != nil {
			return err
		}
		return s.record(ctx, shop.PaymentStream(c.OrderID), m.ID, shop.EvtPaymentCharged, shop.PaymentCharged{OrderID: c.OrderID, AmountCents: c.AmountCents, ChargeID: id}, meta)
	}
	return bus.Permanent(fmt.Errorf("%w: no handler for %s", shop.ErrInvalidCommand, c.Type))
}

// record appends the outcome of a downstream call. The event ID derives
// from the command ID, so a retried handler that already stored its outcome
// is a no-op at the store (the store deduplicates by event ID) — the store
// is consistent even when the downstream effect was not idempotent.
func (s *Shop) record(ctx context.Context, stream, cmdID, typ string, body any, meta map[string]string) error {
	e, err := event.New(cmdID+"/0", typ, stream, body)
	if err != nil {
		return err
	}
	e.Metadata = meta
	_, err = s.cfg.Store.Append(ctx, stream, eventstore.Any, e)
	return err
}
