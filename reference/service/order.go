package service

import (
	"context"

	"github.com/edkit-dev/edkit/reference/cqrs"
	"github.com/edkit-dev/edkit/reference/shop"
)

// orderDecider is the order aggregate as cqrs sees it.
var orderDecider = cqrs.Decider[shop.Order, shop.Command]{
	Initial: shop.InitialOrder,
	Evolve:  shop.EvolveOrder,
	Decide:  shop.DecideOrder,
}

// handleOrder runs an order command through the aggregate. cqrs makes it
// idempotent by command ID and retries lost optimistic-concurrency races.
func (s *Shop) handleOrder(ctx context.Context, cmdID string, c shop.Command) error {
	_, err := s.orders.Handle(ctx, shop.OrderStream(c.OrderID), cmdID, c)
	return err
}
