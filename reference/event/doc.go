// Package event defines the envelope every event travels in: through the
// event store, over the bus, into projections and sagas. It is deliberately
// small and JSON-friendly so that histories and reports can show events as
// they were.
package event
