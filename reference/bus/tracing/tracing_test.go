package tracing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/bus/tracing"
)

var errBoom = errors.New("boom")

func newProvider(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, sr
}

// capture is a Publisher that keeps what it is given, or fails with err.
type capture struct {
	msgs []*bus.Message
	err  error
}

func (c *capture) Publish(_ context.Context, msgs ...*bus.Message) error {
	c.msgs = append(c.msgs, msgs...)
	return c.err
}

func (c *capture) Close() error { return nil }

func spanByKind(t *testing.T, sr *tracetest.SpanRecorder, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.SpanKind() == kind {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d ended %v spans, want 1", len(found), kind)
	}
	return found[0]
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) string {
	for _, a := range s.Attributes() {
		if a.Key == k {
			return a.Value.String()
		}
	}
	return "<absent>"
}

// The whole path over a real (in-memory) broker: the consumer span is a
// child of the producer span, which is a child of the caller's span, and
// the handler's ctx carries the consumer span.
func TestTraceFollowsMessageOverMembus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tp, sr := newProvider(t)
	prop := propagation.TraceContext{}
	b := membus.New()
	t.Cleanup(func() { _ = b.Close() })

	pctx, parent := tp.Tracer("test").Start(ctx, "request")
	pub := tracing.Publisher(b, tp, prop, tracing.System("edkit-membus"))
	if err := pub.Publish(pctx, &bus.Message{ID: "m-1", Topic: "orders", Key: "o-1", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	parent.End()

	seen := make(chan trace.SpanContext, 1)
	h := bus.Chain(func(ctx context.Context, _ *bus.Message) error {
		seen <- trace.SpanContextFromContext(ctx)
		return nil
	}, tracing.Middleware(tp, prop, tracing.System("edkit-membus"), tracing.ConsumerGroup("billing")))
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- bus.Consume(cctx, b, "orders", "billing", h) }()
	var inHandler trace.SpanContext
	select {
	case inHandler = <-seen:
	case <-ctx.Done():
		t.Fatal("message not handled")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Consume: %v", err)
	}

	producer := spanByKind(t, sr, trace.SpanKindProducer)
	consumer := spanByKind(t, sr, trace.SpanKindConsumer)
	if producer.SpanContext().TraceID() != parent.SpanContext().TraceID() ||
		producer.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("producer span is not a child of the caller's span")
	}
	if consumer.SpanContext().TraceID() != producer.SpanContext().TraceID() {
		t.Fatalf("consumer trace %s, producer trace %s", consumer.SpanContext().TraceID(), producer.SpanContext().TraceID())
	}
	if consumer.Parent().SpanID() != producer.SpanContext().SpanID() || !consumer.Parent().IsRemote() {
		t.Fatalf("consumer parent %v, want remote producer span %s", consumer.Parent(), producer.SpanContext().SpanID())
	}
	if inHandler.SpanID() != consumer.SpanContext().SpanID() {
		t.Fatal("handler ctx does not carry the consumer span")
	}
	want := map[attribute.Key][2]string{ // producer, consumer
		"messaging.system":              {"edkit-membus", "edkit-membus"},
		"messaging.destination.name":    {"orders", "orders"},
		"messaging.message.id":          {"m-1", "m-1"},
		"messaging.operation.type":      {"send", "process"},
		"messaging.consumer.group.name": {"<absent>", "billing"},
		"messaging.message.body.size":   {"1", "1"},
	}
	for k, v := range want {
		if got := attr(producer, k); got != v[0] {
			t.Errorf("producer %s = %q, want %q", k, got, v[0])
		}
		if got := attr(consumer, k); got != v[1] {
			t.Errorf("consumer %s = %q, want %q", k, got, v[1])
		}
	}
	if producer.Name() != "send orders" || consumer.Name() != "process orders" {
		t.Errorf("span names %q, %q", producer.Name(), consumer.Name())
	}
	if consumer.Status().Code == codes.Error || producer.Status().Code == codes.Error {
		t.Error("error status on a clean delivery")
	}
}

func TestPublisherInjectsIntoCopy(t *testing.T) {
	tp, sr := newProvider(t)
	var c capture
	orig := &bus.Message{ID: "1", Topic: "t"}
	if err := tracing.Publisher(&c, tp, nil).Publish(context.Background(), orig, nil); err != nil {
		t.Fatal(err)
	}
	if orig.Headers != nil {
		t.Fatalf("caller's message got headers %v", orig.Headers)
	}
	if len(c.msgs) != 2 || c.msgs[1] != nil {
		t.Fatalf("published %v, want the copy and the nil passed through", c.msgs)
	}
	sc := spanByKind(t, sr, trace.SpanKindProducer).SpanContext()
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if got := c.msgs[0].Header("traceparent"); got != want {
		t.Fatalf("traceparent %q, want %q", got, want)
	}
}

func TestPublishErrorMarksProducerSpans(t *testing.T) {
	tp, sr := newProvider(t)
	c := capture{err: errBoom}
	err := tracing.Publisher(&c, tp, nil).Publish(context.Background(),
		&bus.Message{ID: "1", Topic: "t"}, &bus.Message{ID: "2", Topic: "t"})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Publish = %v", err)
	}
	spans := sr.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	for _, s := range spans {
		if s.Status().Code != codes.Error {
			t.Errorf("span %s status %v, want Error", attr(s, "messaging.message.id"), s.Status())
		}
	}
}

func TestHandlerErrorMarksConsumerSpan(t *testing.T) {
	tp, sr := newProvider(t)
	h := tracing.Middleware(tp, nil)(func(context.Context, *bus.Message) error { return errBoom })
	if err := h(context.Background(), &bus.Message{ID: "1", Topic: "t"}); !errors.Is(err, errBoom) {
		t.Fatalf("handler error not passed on: %v", err)
	}
	s := spanByKind(t, sr, trace.SpanKindConsumer)
	if s.Status().Code != codes.Error || s.Status().Description != "boom" {
		t.Fatalf("status %+v, want Error boom", s.Status())
	}
	if len(s.Events()) != 1 || s.Events()[0].Name != "exception" {
		t.Fatalf("events %+v, want the recorded error", s.Events())
	}
}

// Without trace context in the message the consumer span is a new root,
// even when the consume loop's ctx holds a span; a malformed traceparent
// counts as none.
func TestNoContextStartsNewRoot(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
	}{
		{"nil headers", nil},
		{"no trace headers", map[string]string{"x": "y"}},
		{"malformed traceparent", map[string]string{"traceparent": "00-zz-zz-01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, sr := newProvider(t)
			loop, loopSpan := tp.Tracer("test").Start(context.Background(), "consume loop")
			defer loopSpan.End()
			var inHandler trace.SpanContext
			h := tracing.Middleware(tp, propagation.TraceContext{})(func(ctx context.Context, _ *bus.Message) error {
				inHandler = trace.SpanContextFromContext(ctx)
				return nil
			})
			if err := h(loop, &bus.Message{ID: "1", Topic: "t", Headers: tt.headers}); err != nil {
				t.Fatal(err)
			}
			s := spanByKind(t, sr, trace.SpanKindConsumer)
			if s.Parent().IsValid() {
				t.Fatalf("consumer span has parent %v, want a root", s.Parent())
			}
			if s.SpanContext().TraceID() == loopSpan.SpanContext().TraceID() {
				t.Fatal("consumer span joined the loop's trace")
			}
			if !inHandler.IsValid() || inHandler.SpanID() != s.SpanContext().SpanID() {
				t.Fatal("handler ctx does not carry the consumer span")
			}
		})
	}
}
