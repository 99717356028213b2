// Package memstore is the in-memory event store: the zero-setup backend for
// scenario tests and embedded runs, and the behaviour other backends are
// measured against through eventstoretest.
//
// Everything lives in one log guarded by one lock, so appends are atomic and
// globally ordered. Subscriptions read that log by position from their own
// goroutine and block on a small channel, so a slow subscriber costs no memory
// beyond its buffer and never slows writers.
package memstore
