package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/shop"
)

// handleOrder runs an order command against the order aggregate: load,
// decide, append at the loaded version, retry on a concurrency conflict.
// Event IDs derive from the command ID, so a redelivered command whose
// events are already stored is recognised by the store and not applied twice.
func (s *Shop) handleOrder(ctx context.Context, cmdID string, c shop.Command, meta map[string]string) error {
	stream := shop.OrderStream(c.OrderID)
	for range 8 {
		o, version, err := s.loadOrder(ctx, stream)
		if err != nil {
			return err
		}
		evs, err := shop.DecideOrder(o, c)
		if err != nil {
			// A domain rejection is retried and then dead-lettered with its
			// reason: a command the aggregate refuses is never lost.
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		for i := range evs {
			evs[i].ID = fmt.Sprintf("%s/%d", cmdID, i)
			evs[i].Metadata = meta
		}
		expected := eventstore.NoStream
		if version > 0 {
			expected = eventstore.Exact(version)
		}
		_, err = s.cfg.Store.Append(ctx, stream, expected, evs...)
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			continue
		}
		return err
	}
	return fmt.Errorf("service: %s: too many concurrent writers", stream)
}

func (s *Shop) loadOrder(ctx context.Context, stream string) (shop.Order, uint64, error) {
	o := shop.InitialOrder()
	evs, err := s.cfg.Store.ReadStream(ctx, stream, 1, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return o, 0, nil
	}
	if err != nil {
		return o, 0, err
	}
	for _, e := range evs {
		if o, err = shop.EvolveOrder(o, e); err != nil {
			return o, 0, err
		}
	}
	var v uint64
	if len(evs) > 0 {
		v = evs[len(evs)-1].Version
	}
	return o, v, nil
}
