// Package chaos injects faults while a system runs, on a seeded schedule so
// that a failing run can be replayed. This slice has message-level faults:
// MessageFault, bus middleware that drops, duplicates, reorders, delays and
// corrupts a seeded fraction of deliveries and journals each injection, so
// the checkers in harness/check can be shown to catch what it breaks.
// Broker, network and clock faults, schedules (nemeses) and experiments with
// steady-state hypotheses come next.
package chaos
