// Package scenarios runs given/when/then scenario files against any
// system, the way a load run drives it: through the run pipeline
// (harness.Start), on the system's own broker, recorded into the history
// and judged by the same checkers (no loss, no duplicate effect, per-key
// order, dead-letter accounting, the system's own invariants) beside the
// file's own expectations.
//
// A file names commands, events and messages by the types the system
// registers (Vocabulary); their payloads are decoded into those types with
// unknown fields refused, so a misspelt field fails at its line and column
// (SpecError). Expectations match payloads exactly (equals), by JSON
// pointer (where) or by JSON Schema (schema) — package scenarios/match.
// The same file runs in three modes: Memory, Kafka (embedded) and Faults.
//
// Virtual time: a scenario runs on a clock.Virtual handed to the system
// (harness.Env.Clock); an `elapse:` step jumps it from one pending deadline
// of the system (Deadlines) to the next, letting the system settle after
// each, the way Temporal's test environment skips time. edkit's clock is
// used rather than testing/synctest: the system runs real goroutines on a
// real broker (Kafka mode), which a synctest bubble cannot hold. Typed
// fixtures for one aggregate, saga or projection, where synctest-free
// virtual time is a plain function argument, are in scenarios/fixture.
package scenarios
