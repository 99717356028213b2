package signing_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/bus/signing"
)

// Over a real (in-memory) broker, through Consume with the usual chain:
// genuine messages reach the handler; forged and altered ones are
// dead-lettered after one attempt, because the rejection is permanent.
func TestEndToEndOverMembus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := membus.New()
	t.Cleanup(func() { _ = b.Close() })
	kr := newKeyring(t, "k1", secret1)
	signed := signing.Publisher(b, kr)

	if err := signed.Publish(ctx,
		&bus.Message{ID: "good-1", Topic: "orders", Key: "o-1", Payload: []byte("a"),
			Headers: map[string]string{bus.HeaderType: "OrderPlaced"}},
		&bus.Message{ID: "good-2", Topic: "orders", Key: "o-2", Payload: []byte("b")},
	); err != nil {
		t.Fatal(err)
	}
	altered := sign(t, kr, &bus.Message{ID: "altered", Topic: "orders", Key: "o-3", Payload: []byte("pay 10")})
	altered.Payload = []byte("pay 1000")
	// Straight to the broker, bypassing the signer.
	if err := b.Publish(ctx, altered, &bus.Message{ID: "forged", Topic: "orders", Key: "o-4"}); err != nil {
		t.Fatal(err)
	}

	handled := make(chan string, 4)
	h := bus.Chain(func(_ context.Context, m *bus.Message) error {
		handled <- m.ID
		return nil
	},
		bus.DeadLetter(b, "orders.dlq", "billing"),
		bus.Retry(5, nil, nil),
		signing.Verify(kr),
	)
	done := make(chan error, 1)
	go func() { done <- bus.Consume(ctx, b, "orders", "billing", h) }()

	dlq, err := b.Subscribe(ctx, "orders.dlq", "audit")
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for len(reasons) < 2 {
		select {
		case d := <-dlq:
			m := d.Message()
			if got := m.Header(bus.HeaderDLQAttempts); got != "1" {
				t.Errorf("%s dead-lettered after %s attempts, want 1 (permanent)", m.ID, got)
			}
			reasons[m.ID] = m.Header(bus.HeaderDLQReason)
			if err := d.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatalf("dead letters so far: %v", reasons)
		}
	}
	var got []string
	for len(got) < 2 {
		select {
		case id := <-handled:
			got = append(got, id)
		case <-ctx.Done():
			t.Fatalf("handled so far: %v", got)
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "good-1,good-2" {
		t.Fatalf("handled %v", got)
	}
	if !strings.Contains(reasons["altered"], string(signing.ReasonMismatch)) ||
		!strings.Contains(reasons["forged"], string(signing.ReasonUnsigned)) {
		t.Fatalf("dead-letter reasons %v", reasons)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Consume: %v", err)
	}
}
