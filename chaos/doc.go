// Package chaos injects faults while a system runs, on a seeded schedule so
// that a failing run can be replayed. This first slice has one fault: a
// message-level fault in the bus middleware chain that duplicates and delays
// a fraction of deliveries. Broker, network and clock faults, schedules
// (nemeses) and experiments with steady-state hypotheses come next.
package chaos
