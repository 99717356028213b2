package signing_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/natsbus"
	"github.com/edkit-dev/edkit/reference/bus/signing"
)

// natsURL is an embedded JetStream server for the package's tests over a
// real transport; empty when it could not start (startErr says why).
var (
	natsURL  string
	startErr error
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{
		{Kind: env.KindNATS, Provider: env.Embedded},
	}}, env.WithProvider(embedded.New()))
	cancel()
	if err != nil {
		startErr = err
	} else {
		natsURL = e.Component("nats").Endpoint().URL
	}
	code := m.Run()
	if e != nil {
		if err := e.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close env:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Over NATS JetStream the signature survives the transport's header
// mapping, and the edkit-attempt header natsbus sets on every delivery
// (1, then 2 after a requeue) does not break it.
func TestSignatureSurvivesNATSRedelivery(t *testing.T) {
	if natsURL == "" {
		t.Fatalf("embedded nats cannot start: %v", startErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b, err := natsbus.New(natsURL, natsbus.Prefix("sigtest"), natsbus.MemoryStorage(),
		natsbus.RedeliveryWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil && !errors.Is(err, bus.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	kr := newKeyring(t, "k1", secret1)
	if err := signing.Publisher(b, kr).Publish(ctx, baseMessage()); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, &bus.Message{ID: "forged", Topic: "orders", Key: "o-1"}); err != nil {
		t.Fatal(err)
	}
	ch, err := b.Subscribe(ctx, "orders", "billing")
	if err != nil {
		t.Fatal(err)
	}
	next := func() bus.Delivery {
		t.Helper()
		select {
		case d, ok := <-ch:
			if !ok {
				t.Fatal("subscription ended")
			}
			return d
		case <-ctx.Done():
			t.Fatal("no delivery in time")
		}
		return nil
	}
	var attempts []string
	for len(attempts) < 2 {
		d := next()
		m := d.Message()
		if m.ID != "m-1" {
			t.Fatalf("got %s before the signed message was acked", m.ID)
		}
		attempts = append(attempts, m.Header(bus.HeaderAttempt))
		if err, _ := verify(kr, m); err != nil {
			t.Fatalf("delivery %d (attempt header %q): %v", len(attempts), m.Header(bus.HeaderAttempt), err)
		}
		settle := func() error { return d.Ack(ctx) }
		if len(attempts) == 1 {
			settle = func() error { return d.Nack(ctx, true) }
		}
		if err := settle(); err != nil {
			t.Fatal(err)
		}
	}
	if attempts[1] != "2" {
		t.Fatalf("attempt headers %q: the redelivery was not marked, so this test proves nothing", attempts)
	}
	d := next()
	if err, _ := verify(kr, d.Message()); reason(t, err) != signing.ReasonUnsigned {
		t.Fatalf("forged message over NATS: %v", err)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}
