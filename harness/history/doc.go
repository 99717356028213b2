// Package history records what a run did as a totally ordered list of
// operations — publishes with invoke/ok/fail/info outcomes, deliveries, acks,
// side effects, dead-letters — and reads and writes it as JSON lines. The
// checkers in harness/check judge a history; they never see the system.
package history
