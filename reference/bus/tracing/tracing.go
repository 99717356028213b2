package tracing

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/edkit-dev/edkit/reference/bus"
)

// ScopeName is the instrumentation scope of the spans this package starts.
const ScopeName = "github.com/edkit-dev/edkit/reference/bus/tracing"

// Option configures Publisher and Middleware.
type Option func(*config)

type config struct {
	system string
	group  string
}

// System sets messaging.system, the broker's semantic-convention name
// ("kafka", "rabbitmq", "nats", "redis"): the bus contract hides which
// backend is in use, so only the caller can say.
func System(name string) Option {
	return func(c *config) { c.system = name }
}

// ConsumerGroup sets messaging.consumer.group.name on consumer spans.
func ConsumerGroup(name string) Option {
	return func(c *config) { c.group = name }
}

func setup(tp trace.TracerProvider, prop propagation.TextMapPropagator, opts []Option) (trace.Tracer, propagation.TextMapPropagator, *config) {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	cfg := &config{}
	for _, o := range opts {
		o(cfg)
	}
	return tp.Tracer(ScopeName), prop, cfg
}

func (c *config) attrs(m *bus.Message, op attribute.KeyValue, opName string) []attribute.KeyValue {
	a := []attribute.KeyValue{
		op,
		semconv.MessagingOperationName(opName),
		semconv.MessagingDestinationName(m.Topic),
		semconv.MessagingMessageID(m.ID),
		semconv.MessagingMessageBodySize(len(m.Payload)),
	}
	if c.system != "" {
		a = append(a, semconv.MessagingSystemKey.String(c.system))
	}
	if c.group != "" {
		a = append(a, semconv.MessagingConsumerGroupName(c.group))
	}
	return a
}

// Publisher returns a publisher that starts a producer span per message,
// as a child of the span in ctx, and injects the span's context into a copy
// of the message through prop. The caller's messages are not modified. The
// spans end when pub.Publish returns, with error status if it failed. A nil
// tp means otel's global provider; a nil prop means W3C trace context.
// Close closes pub.
func Publisher(pub bus.Publisher, tp trace.TracerProvider, prop propagation.TextMapPropagator, opts ...Option) bus.Publisher {
	tracer, prop, cfg := setup(tp, prop, opts)
	return &publisher{next: pub, tracer: tracer, prop: prop, cfg: cfg}
}

type publisher struct {
	next   bus.Publisher
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	cfg    *config
}

var _ bus.Publisher = (*publisher)(nil)

func (p *publisher) Publish(ctx context.Context, msgs ...*bus.Message) error {
	out := make([]*bus.Message, len(msgs))
	spans := make([]trace.Span, 0, len(msgs))
	for i, m := range msgs {
		if m == nil {
			continue // the backend reports nil messages its own way
		}
		sctx, span := p.tracer.Start(ctx, "send "+m.Topic,
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(p.cfg.attrs(m, semconv.MessagingOperationTypeSend, "send")...))
		c := m.Clone()
		if c.Headers == nil {
			c.Headers = make(map[string]string)
		}
		p.prop.Inject(sctx, propagation.MapCarrier(c.Headers))
		out[i] = c
		spans = append(spans, span)
	}
	err := p.next.Publish(ctx, out...)
	for _, s := range spans {
		if err != nil {
			s.RecordError(err)
			s.SetStatus(codes.Error, err.Error())
		}
		s.End()
	}
	return err
}

func (p *publisher) Close() error { return p.next.Close() }

// Middleware returns consumer middleware that extracts the producer's trace
// context from the message's headers through prop and runs the handler
// inside a consumer span that is its child. The handler's ctx carries the
// span, so its own spans and outgoing publishes join the trace. A handler
// error is recorded on the span with error status. Outermost in the chain
// it makes one span per delivery; inside bus.Retry, one per attempt. A nil
// tp means otel's global provider; a nil prop means W3C trace context.
func Middleware(tp trace.TracerProvider, prop propagation.TextMapPropagator, opts ...Option) bus.Middleware {
	tracer, prop, cfg := setup(tp, prop, opts)
	return func(next bus.Handler) bus.Handler {
		return func(ctx context.Context, m *bus.Message) error {
			// Clear any span in ctx first, so only the message decides the
			// parent (see the package doc); baggage and values stay.
			parent := prop.Extract(trace.ContextWithSpanContext(ctx, trace.SpanContext{}),
				propagation.MapCarrier(m.Headers))
			ctx, span := tracer.Start(parent, "process "+m.Topic,
				trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(cfg.attrs(m, semconv.MessagingOperationTypeProcess, "process")...))
			defer span.End()
			err := next(ctx, m)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			return err
		}
	}
}
