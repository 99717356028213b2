package tracing_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/bus/tracing"
)

// Wrap the producer's publisher and put Middleware in the consumer's chain:
// the handler runs in the trace of the request that published the message.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	prop := propagation.TraceContext{}
	b := membus.New()
	defer func() { _ = b.Close() }()

	reqCtx, req := tp.Tracer("shop").Start(ctx, "POST /orders")
	_ = tracing.Publisher(b, tp, prop).Publish(reqCtx, &bus.Message{ID: "1", Topic: "orders"})
	req.End()

	sameTrace := make(chan bool, 1)
	h := bus.Chain(func(ctx context.Context, _ *bus.Message) error {
		sameTrace <- trace.SpanContextFromContext(ctx).TraceID() == req.SpanContext().TraceID()
		return nil
	}, tracing.Middleware(tp, prop, tracing.ConsumerGroup("billing")))
	go func() { _ = bus.Consume(ctx, b, "orders", "billing", h) }()
	fmt.Println("handler in the request's trace:", <-sameTrace)
	// Output:
	// handler in the request's trace: true
}
