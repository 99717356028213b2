package service_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
	"github.com/edkit-dev/edkit/reference/eventstore/pebblestore"
	"github.com/edkit-dev/edkit/reference/shop"
)

const replayEvents = 1_000_000

// fillOrders appends replayEvents shop events: orders of five events each
// (placed, reserved, charged, confirmed on the order stream's side).
func fillOrders(b *testing.B, s eventstore.Store) {
	b.Helper()
	ctx := context.Background()
	const perAppend = 1000
	for i := 0; i < replayEvents; i += perAppend {
		evs := make([]event.Envelope, 0, perAppend)
		for j := i; j < i+perAppend; j++ {
			order := fmt.Sprintf("o-%d", j/5)
			var e event.Envelope
			var err error
			switch j % 5 {
			case 0:
				e, err = event.New("", shop.EvtOrderPlaced, "", shop.OrderPlaced{OrderID: order, Customer: "c", AmountCents: 1200,
					Items: []shop.Item{{SKU: "book", Qty: 1}}})
			case 1:
				e, err = event.New("", shop.EvtStockReserved, "", shop.OrderRef{OrderID: order})
			case 2:
				e, err = event.New("", shop.EvtPaymentCharged, "", shop.PaymentCharged{OrderID: order, AmountCents: 1200, ChargeID: "ch"})
			case 3:
				e, err = event.New("", shop.EvtOrderConfirmed, "", shop.OrderRef{OrderID: order})
			default:
				e, err = event.New("", "Audited", "", shop.OrderRef{OrderID: order})
			}
			if err != nil {
				b.Fatal(err)
			}
			e.ID = fmt.Sprintf("e-%d", j)
			evs = append(evs, e)
		}
		// One stream per batch keeps the append cheap; the projection keys
		// on the order ID in the body, not on the stream.
		if _, err := s.Append(ctx, fmt.Sprintf("replay-%d", i/perAppend), eventstore.NoStream, evs...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProjectionReplay rebuilds the order-summary read model from a
// store of 1M events, beside a bare read of the same events, so the
// projection's own cost reads off as the difference.
func BenchmarkProjectionReplay(b *testing.B) {
	stores := map[string]func(b *testing.B) eventstore.Store{
		"memstore": func(*testing.B) eventstore.Store { return memstore.New() },
		"pebblestore": func(b *testing.B) eventstore.Store {
			b.Helper()
			s, err := pebblestore.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	for _, name := range []string{"memstore", "pebblestore"} {
		s := stores[name](b)
		fillOrders(b, s)
		replay := func(b *testing.B, apply func(event.Envelope) error) {
			b.Helper()
			ctx := context.Background()
			for range b.N {
				from := uint64(1)
				for {
					page, err := s.ReadAll(ctx, from, 10_000)
					if err != nil {
						b.Fatal(err)
					}
					if len(page) == 0 {
						break
					}
					for _, e := range page {
						if err := apply(e); err != nil {
							b.Fatal(err)
						}
					}
					from = page[len(page)-1].Position + 1
				}
			}
			b.ReportMetric(float64(replayEvents*b.N)/b.Elapsed().Seconds(), "events/s")
		}
		b.Run(name+"/bare-read", func(b *testing.B) {
			replay(b, func(event.Envelope) error { return nil })
		})
		b.Run(name+"/order-summary", func(b *testing.B) {
			var sum *shop.Summaries
			replay(b, func(e event.Envelope) error {
				if e.Position == 1 {
					sum = shop.NewSummaries()
				}
				_, err := sum.Apply(e)
				return err
			})
			if got := len(sum.All()); got != replayEvents/5 {
				b.Fatalf("%d orders in the read model, want %d", got, replayEvents/5)
			}
		})
		_ = s.Close()
	}
}
