package signing_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/signing"
)

// discard is a Publisher that drops everything: the bare baseline.
type discard struct{}

func (discard) Publish(context.Context, ...*bus.Message) error { return nil }
func (discard) Close() error                                   { return nil }

func benchMessage() *bus.Message {
	return &bus.Message{ID: "m-1", Topic: "orders", Key: "o-1", Payload: bytes.Repeat([]byte("x"), 1024),
		Headers: map[string]string{bus.HeaderType: "OrderPlaced", "tenant": "acme", "traceparent": "00-0-0-01"}}
}

// Signing beside the bare publish it wraps, for a 1 KiB message.
func BenchmarkPublish(b *testing.B) {
	kr, err := signing.NewKeyring("k1", secret1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	m := benchMessage()
	for _, bc := range []struct {
		name string
		pub  bus.Publisher
	}{{"bare", discard{}}, {"signed", signing.Publisher(discard{}, kr)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(m.Payload)))
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.pub.Publish(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Verification beside a bare handler call, for a 1 KiB message.
func BenchmarkVerify(b *testing.B) {
	kr, err := signing.NewKeyring("k1", secret1)
	if err != nil {
		b.Fatal(err)
	}
	var c capture
	if err := signing.Publisher(&c, kr).Publish(context.Background(), benchMessage()); err != nil {
		b.Fatal(err)
	}
	m := c.msgs[0]
	h := func(context.Context, *bus.Message) error { return nil }
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		h    bus.Handler
	}{{"bare", h}, {"verified", signing.Verify(kr)(h)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(m.Payload)))
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.h(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
