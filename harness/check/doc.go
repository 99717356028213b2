// Package check judges a recorded history (harness/history) against the
// invariants of DESIGN.md: no acknowledged loss (Loss), no phantoms
// (Phantom), per-key consumer order (Order), no duplicate delivery
// (DuplicateDelivery), no duplicate side effect (DuplicateEffect) and DLQ
// accounting (DLQAccounting).
//
// Over event-store and outbox histories (the append, read and commit ops
// record.Store records, and the relay's publishes) it judges optimistic
// concurrency (OptimisticConcurrency: no two writers both won at one
// expected version), per-stream linearizability (LinearizableStore, with
// porcupine) and outbox atomicity (OutboxAtomicity: every committed event
// published, nothing published uncommitted, each stream in order).
// Convergence is a final-state check: a read model against a fold of the
// store, key by key.
//
// Each checker returns a Result whose anomalies carry a minimal witness —
// the few ops that prove the invariant broke — and the time it broke. A
// broken run can produce millions of anomalies, so each checker lists only
// the earliest MaxAnomalies and counts the rest in the Result's Note.
//
// Run applies several checkers to one history, interning message IDs and
// groups once for all of them; Valid folds the results into the verdict a CI
// gate exits on. Anomalies a backend's guarantee profile allows (duplicates
// under at-least-once delivery) are reported as Permitted and keep the
// result Valid.
package check
