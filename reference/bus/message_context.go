package bus

import "context"

type messageKey struct{}

// ContextWithMessage returns ctx carrying the message being handled, so code
// deep in a handler (a call to a payment gateway, say) can name the message
// that caused it — which is what effect recording and tracing need.
func ContextWithMessage(ctx context.Context, m *Message) context.Context {
	return context.WithValue(ctx, messageKey{}, m)
}

// MessageFrom returns the message being handled, or nil outside a handler.
func MessageFrom(ctx context.Context) *Message {
	m, _ := ctx.Value(messageKey{}).(*Message)
	return m
}

// WithMessageContext is middleware that puts the message into the handler's
// context (see MessageFrom).
func WithMessageContext() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) error {
			return next(ContextWithMessage(ctx, m), m)
		}
	}
}
