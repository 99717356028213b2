// Package record connects a running system to a history: a bus wrapper that
// records publishes with their outcomes and stamps per-key sequence numbers,
// consumer middleware that records deliveries, acks, nacks and dead-letters,
// and wrappers that record side effects attributed to the message that
// caused them. The checkers in harness/check then judge the history.
package record
