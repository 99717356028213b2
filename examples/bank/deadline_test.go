package bank_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/examples/bank"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

// TestCreditDeadline: a credit command that is lost never answers; once
// the bank's clock passes the credit deadline the transfer saga refunds
// the debit, and no money is lost.
func TestCreditDeadline(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	loseCredits := func(group string, h bus.Handler) bus.Handler {
		return func(ctx context.Context, m *bus.Message) error {
			if group == bank.GroupAccounts && m.ID == "t1/"+bank.CmdCredit {
				return nil // acked, never handled
			}
			return h(ctx, m)
		}
	}
	mb := membus.New()
	defer func() { _ = mb.Close() }()
	b := bank.NewBank(mb, bank.WithWrap(loseCredits), bank.WithNow(clock))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	for _, acc := range []string{"alice", "bob"} {
		if err := b.Open(ctx, acc, 100); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "both accounts shown", func() bool { return b.Balance("alice") == 100 && b.Balance("bob") == 100 })
	if err := b.Transfer(ctx, "t1", "alice", "bob", 30); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the debit shown", func() bool { return b.Status("t1") == bank.Pending })
	time.Sleep(300 * time.Millisecond) // ticks of the deadline loop before the deadline: nothing fires
	if st := b.Status("t1"); st != bank.Pending {
		t.Fatalf("the transfer moved before its deadline: %s", st)
	}
	now.Add(int64(bank.CreditTimeout + time.Second))
	waitUntil(t, "the refund", func() bool { return b.Status("t1") == bank.Compensated })
	if a, bb := b.Balance("alice"), b.Balance("bob"); a != 100 || bb != 100 {
		t.Errorf("balances alice %d, bob %d after the refund; want 100 and 100", a, bb)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
