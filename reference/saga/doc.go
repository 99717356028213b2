// Package saga is the core of orchestrated sagas: a definition of steps with
// their compensations, and a state folded from persisted transitions that
// enforces the saga invariant — each saga ends completed, or with every done
// step compensated in reverse order.
//
// Deadlines ("payment answers within 30 minutes") are part of the
// transitions (Schedule, Cancel, Fired), so a saga recovered from its
// stream after a restart knows which are pending; their times come from
// the messages that set them, never from a clock read while reacting.
// Timers orders the pending deadlines of many sagas for the runtime that
// fires them on its injected clock. A message for a saga that has ended is
// ignored or refused, as the definition's LatePolicy says (CheckLate).
// The shop's order-fulfilment saga is built on it, with a payment deadline.
//
// A choreographed saga — no orchestrator, each participant reacting to the
// others' events — has no stored transitions: Choreography maps its event
// types to the steps of a Definition, and an Observer folds each saga's
// state from the events seen, so the same invariant is judged from
// observation (harness/check.Choreography does it over a run's history).
package saga
