// Package harness is edkit's run core: one pipeline that takes any system
// under test from environment to verdict, which every front end (edload
// run, the go test helpers, CI gates) only configures.
//
//	environment → system start → open-loop load (loadgen) with message
//	faults (chaos) → recording (harness/history) → quiescence → checks
//	(harness/check and the system's own) → thresholds → report
//
// A system plugs in by implementing System: it starts on the Env the run
// gives it — the run's broker, already recording every publish, and hooks
// that record deliveries, effects and dead letters — and returns an
// Instance that sends one intended operation at a time and says when it is
// settled. What more it can do it declares by implementing optional
// interfaces, found by type assertion the way database/sql/driver does it:
// Topics (create these before start), StateChecker (invariants over its
// final state, such as saga outcomes), Counter (extra report counts),
// LatencyNamer (what its end-to-end and settled latencies mean).
//
// The harness never imports a domain: reference/shop reaches it through
// the adapter in cmd/edload/shopsystem, a user's system through its own.
// docs/architecture.md describes the pipeline and the contract.
package harness
