// Package bustest is the conformance suite every bus backend runs:
// bustest.Run(t, newBus) from the backend's own test file. Rather than
// skipping tests by declared feature, it measures what the broker did —
// messages lost, duplicated and reordered per key — logs the counts, and
// fails on any the bus.Bus contract forbids in a fault-free run.
package bustest
