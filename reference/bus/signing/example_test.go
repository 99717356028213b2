package signing_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/bus/signing"
)

// Producers sign through a wrapped publisher; consumers put Verify in their
// chain. A message published around the signer is rejected before the
// handler sees it.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := membus.New()
	defer func() { _ = b.Close() }()

	kr, err := signing.NewKeyring("2026-11", []byte("a secret of at least 32 bytes!!!"))
	if err != nil {
		panic(err)
	}
	_ = signing.Publisher(b, kr).Publish(ctx, &bus.Message{ID: "1", Topic: "orders", Payload: []byte("ok")})
	_ = b.Publish(ctx, &bus.Message{ID: "2", Topic: "orders", Payload: []byte("forged")})

	results := make(chan string, 2)
	h := bus.Chain(func(_ context.Context, m *bus.Message) error {
		results <- "handled " + m.ID
		return nil
	}, func(next bus.Handler) bus.Handler { // report what Verify rejects
		return func(ctx context.Context, m *bus.Message) error {
			err := next(ctx, m)
			var serr *signing.SignatureError
			if errors.As(err, &serr) {
				results <- fmt.Sprintf("rejected %s: %s", m.ID, serr.Reason)
			}
			return err
		}
	}, signing.Verify(kr))
	go func() { _ = bus.Consume(ctx, b, "orders", "billing", h) }()
	fmt.Println(<-results)
	fmt.Println(<-results)
	// Output:
	// handled 1
	// rejected 2: unsigned
}
