package service_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
	"github.com/edkit-dev/edkit/reference/outbox"
	"github.com/edkit-dev/edkit/reference/saga"
	"github.com/edkit-dev/edkit/reference/service"
	"github.com/edkit-dev/edkit/reference/shop"
)

// losePayments loses every ChargePayment command (acks it unhandled), as
// a payment service that never answers does.
func losePayments(group string, h bus.Handler) bus.Handler {
	return func(ctx context.Context, m *bus.Message) error {
		if group == shop.GroupCommands && m.Header(bus.HeaderType) == shop.CmdChargePayment {
			return nil
		}
		return h(ctx, m)
	}
}

// TestPaymentDeadline: a payment that never answers is given up on when
// the saga's deadline fires on the virtual clock — the stock released and
// the order cancelled — and a shop restarted on the same store while the
// deadline is pending fires it too (the deadline lives in the store).
func TestPaymentDeadline(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := map[bool]string{false: "running", true: "after a restart"}[restart]
		t.Run(name, func(t *testing.T) {
			clk := clock.NewVirtual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
			st := memstore.New(memstore.WithNow(clk.Now))
			b := membus.New()
			defer func() { _ = b.Close(); _ = st.Close() }()
			inv := shop.NewMemoryInventory(map[string]int{"book": 5}, false)
			cfg := service.Config{Store: st, Bus: b, Inventory: inv, Gateway: shop.NewMemoryGateway(0), Dedup: true, Clock: clk, Wrap: losePayments,
				// What a restart keeps besides the store: the relay's
				// checkpoint and the inbox (durable in a deployment).
				RelayCheckpoint: outbox.NewMemoryCheckpoint(), Inbox: bus.NewMemoryInbox()}
			s, stop := run(t, cfg)
			place(t, &fixture{shop: s}, "o-1", "alice", 2)
			pending := func(s *service.Shop) func() bool {
				return func() bool {
					sg, err := s.Saga(t.Context(), "o-1")
					return err == nil && !sg.Deadlines[shop.PaymentDeadline].IsZero()
				}
			}
			waitFor(t, "the payment deadline set", pending(s))
			if restart {
				stop()
				s, stop = run(t, cfg)
			}
			defer stop()
			clk.Advance(shop.PaymentTimeout - time.Second)
			time.Sleep(20 * time.Millisecond)
			if sg, _ := s.Saga(t.Context(), "o-1"); sg.Status != saga.Running {
				t.Fatalf("the saga moved before its deadline: %s", sg.Status)
			}
			clk.Advance(2 * time.Second)
			waitFor(t, "the saga compensated", func() bool {
				sg, err := s.Saga(t.Context(), "o-1")
				return err == nil && sg.Status == saga.Compensated
			})
			sg, _ := s.Saga(t.Context(), "o-1")
			if sg.Reason != "payment timed out" || len(sg.Deadlines) != 0 {
				t.Errorf("saga %+v: want compensated for the timeout, no deadline left", sg)
			}
			waitFor(t, "the stock released", func() bool { return inv.OnHand("book") == 5 })
		})
	}
}

// run starts a shop on cfg; stop stops it and waits.
func run(t *testing.T, cfg service.Config) (*service.Shop, func()) {
	t.Helper()
	s, err := service.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	return s, func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// failOnce fails the first publish of one message type, as a broker that
// is down for a moment does.
type failOnce struct {
	bus.Bus
	typ    string
	failed atomic.Bool
}

func (f *failOnce) Publish(ctx context.Context, msgs ...*bus.Message) error {
	for _, m := range msgs {
		if m.Header(bus.HeaderType) == f.typ && f.failed.CompareAndSwap(false, true) {
			return errors.New("broker down")
		}
	}
	return f.Bus.Publish(ctx, msgs...)
}

// TestDeadlineCommandsSurviveAFailedSend: the payment deadline fires while
// the broker refuses its first compensating command; the deadline stays
// pending, fires again when it is due again, and the stock is released.
// (Arming the fired state before sending cleared the timer, and the command
// was lost for good.)
func TestDeadlineCommandsSurviveAFailedSend(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	st := memstore.New(memstore.WithNow(clk.Now))
	mb := membus.New()
	defer func() { _ = mb.Close(); _ = st.Close() }()
	b := &failOnce{Bus: mb, typ: shop.CmdReleaseStock}
	inv := shop.NewMemoryInventory(map[string]int{"book": 5}, false)
	s, stop := run(t, service.Config{Store: st, Bus: b, Inventory: inv, Gateway: shop.NewMemoryGateway(0), Dedup: true, Clock: clk, Wrap: losePayments})
	defer stop()
	place(t, &fixture{shop: s}, "o-1", "alice", 2)
	waitFor(t, "the payment deadline set", func() bool {
		sg, err := s.Saga(t.Context(), "o-1")
		return err == nil && !sg.Deadlines[shop.PaymentDeadline].IsZero()
	})
	clk.Advance(shop.PaymentTimeout + time.Second)
	waitFor(t, "the first send refused", b.failed.Load)
	for deadline := time.Now().Add(5 * time.Second); inv.OnHand("book") != 5; {
		if time.Now().After(deadline) {
			t.Fatal("the stock was never released: the deadline's command was lost with the failed send")
		}
		clk.Advance(time.Second) // the deadline is due again
		time.Sleep(10 * time.Millisecond)
	}
}
