// Package tracing carries W3C trace context across the bus with
// OpenTelemetry, so one trace follows a request from the producer that
// published a message to every consumer that handled it, on any backend:
// the context travels in the message's headers (traceparent, tracestate),
// which every bus backend preserves.
//
// Publisher starts a producer span per message and injects its context into
// a copy of the message; Middleware extracts it on delivery and starts the
// consumer span as its child, so the consumer's work hangs under the
// publish that caused it. Spans carry the OpenTelemetry messaging semantic
// conventions (messaging.destination.name, messaging.message.id,
// messaging.operation.type, and messaging.system when told with System).
//
// A delivery without trace context starts a new trace instead of joining
// whatever span the consume loop's ctx holds: a long-lived loop would
// otherwise gather every message it ever handled into one trace.
package tracing
