package record

import (
	"context"

	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/reference/shop"
)

// Effect names of the shop's downstream calls.
const (
	EffectReserveStock  = "reserve-stock"
	EffectReleaseStock  = "release-stock"
	EffectChargePayment = "charge-payment"
)

// Inventory records every successful reservation and release as an effect.
type Inventory struct {
	shop.Inventory
	Rec *history.Recorder
}

var _ shop.Inventory = Inventory{}

// Reserve forwards and records.
func (i Inventory) Reserve(ctx context.Context, orderID string, items []shop.Item) error {
	if err := i.Inventory.Reserve(ctx, orderID, items); err != nil {
		return err
	}
	Effect(ctx, i.Rec, EffectReserveStock)
	return nil
}

// Release forwards and records.
func (i Inventory) Release(ctx context.Context, orderID string) error {
	if err := i.Inventory.Release(ctx, orderID); err != nil {
		return err
	}
	Effect(ctx, i.Rec, EffectReleaseStock)
	return nil
}

// Gateway records every successful charge as an effect.
type Gateway struct {
	shop.PaymentGateway
	Rec *history.Recorder
}

var _ shop.PaymentGateway = Gateway{}

// Charge forwards and records.
func (g Gateway) Charge(ctx context.Context, orderID, customer string, amountCents int64) (string, error) {
	id, err := g.PaymentGateway.Charge(ctx, orderID, customer, amountCents)
	if err != nil {
		return id, err
	}
	Effect(ctx, g.Rec, EffectChargePayment)
	return id, nil
}
