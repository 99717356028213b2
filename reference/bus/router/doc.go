// Package router dispatches messages to handlers. A Router consumes several
// topics for one consumer group and sends each message to the handler
// registered for its topic, inside router-wide and per-route middleware. A
// Switch is a bus.Handler that picks among handlers by a message's content:
// a header (ByHeader) or a field of its JSON payload (ByField).
//
// A message no route accepts is never dropped silently: without a fallback
// the Switch fails it with a bus.Permanent error naming the value, so
// bus.DeadLetter moves it to the dead-letter topic at once.
package router
