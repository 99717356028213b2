package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Context is a context that ends after d or with the test, for a backend's
// own tests.
func Context(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// Next returns the next delivery on ch, failing the test when ch closes or
// ctx ends first.
func Next(ctx context.Context, tb testing.TB, ch <-chan bus.Delivery) bus.Delivery {
	tb.Helper()
	select {
	case d, ok := <-ch:
		if !ok {
			tb.Fatal("subscription closed")
		}
		return d
	case <-ctx.Done():
		tb.Fatal("no delivery before the deadline")
	}
	return nil
}
