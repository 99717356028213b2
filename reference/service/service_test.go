package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
	"github.com/edkit-dev/edkit/reference/service"
	"github.com/edkit-dev/edkit/reference/shop"
)

type fixture struct {
	shop *service.Shop
	inv  *shop.MemoryInventory
	gw   *shop.MemoryGateway
	bus  *membus.Bus
}

func start(t *testing.T, mutate func(*service.Config)) *fixture {
	t.Helper()
	f := &fixture{
		inv: shop.NewMemoryInventory(map[string]int{"book": 5}, false),
		gw:  shop.NewMemoryGateway(0, "mallory"),
		bus: membus.New(),
	}
	st := memstore.New()
	cfg := service.Config{Store: st, Bus: f.bus, Inventory: f.inv, Gateway: f.gw, Dedup: true}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := service.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.shop = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = f.bus.Close()
		_ = st.Close()
	})
	return f
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func place(t *testing.T, f *fixture, id, customer string, qty int) {
	t.Helper()
	err := f.shop.Send(context.Background(), "cmd-"+id, shop.Command{Type: shop.CmdPlaceOrder, OrderID: id, Customer: customer,
		Items: []shop.Item{{SKU: "book", Qty: qty}}, AmountCents: 1500})
	if err != nil {
		t.Fatal(err)
	}
}

func status(f *fixture, id string) string {
	row, _ := f.shop.Summaries().Get(id)
	return row.Status
}

func TestOrderOutcomes(t *testing.T) {
	tests := []struct {
		name, customer string
		qty            int
		status         string
		charges, stock int
	}{
		{"paid order is confirmed", "alice", 2, shop.StatusConfirmed, 1, 3},
		{"declined payment releases stock and cancels", "mallory", 2, shop.StatusCancelled, 0, 5},
		{"missing stock cancels without charging", "alice", 9, shop.StatusCancelled, 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, nil)
			place(t, f, "o-1", tt.customer, tt.qty)
			waitFor(t, "order closed", func() bool {
				s := status(f, "o-1")
				return s == shop.StatusConfirmed || s == shop.StatusCancelled
			})
			if got := status(f, "o-1"); got != tt.status {
				t.Fatalf("status %s, want %s", got, tt.status)
			}
			if got := f.gw.Charges("o-1"); got != tt.charges {
				t.Fatalf("charges %d, want %d", got, tt.charges)
			}
			waitFor(t, fmt.Sprintf("stock %d", tt.stock), func() bool { return f.inv.OnHand("book") == tt.stock })
		})
	}
}

// duplicateCommands delivers every command twice, as a broker redelivering after a
// lost ack would.
func duplicateCommands(group string, h bus.Handler) bus.Handler {
	if group != shop.GroupCommands {
		return h
	}
	return func(ctx context.Context, m *bus.Message) error {
		if err := h(ctx, m); err != nil {
			return err
		}
		return h(ctx, m)
	}
}

func TestDedupDecidesWhetherRedeliveryRepeatsEffects(t *testing.T) {
	for _, dedup := range []bool{true, false} {
		t.Run(fmt.Sprintf("dedup=%v", dedup), func(t *testing.T) {
			f := start(t, func(c *service.Config) { c.Dedup = dedup; c.Wrap = duplicateCommands })
			place(t, f, "o-1", "alice", 1)
			waitFor(t, "order confirmed", func() bool { return status(f, "o-1") == shop.StatusConfirmed })
			want := 1
			if !dedup {
				want = 2
			}
			if got := f.gw.Charges("o-1"); got != want {
				t.Fatalf("charges %d, want %d", got, want)
			}
		})
	}
}

func TestPoisonCommandIsDeadLettered(t *testing.T) {
	dead := make(chan string, 1)
	f := start(t, func(c *service.Config) {
		c.OnDeadLetter = func(_ context.Context, group string, m *bus.Message, reason string, attempts int) {
			dead <- fmt.Sprintf("%s %s %d %s", group, m.ID, attempts, reason)
		}
	})
	err := f.bus.Publish(context.Background(), &bus.Message{ID: "p-1", Topic: shop.TopicCommands, Key: "o-9", Payload: []byte("not json")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-dead:
		want := shop.GroupCommands + " p-1 3 "
		if len(got) < len(want) || got[:len(want)] != want {
			t.Fatalf("dead-letter %q, want prefix %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("poison message was not dead-lettered")
	}
}

func TestConfigValidation(t *testing.T) {
	_, err := service.New(service.Config{})
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, field := range []string{"Store", "Bus", "Inventory", "Gateway"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}
