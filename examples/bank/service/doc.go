// Package service runs the bank's accounts as a request/response service
// that speaks only to its broker, so that edkit can test it black-box:
// publish commands to its input topic, watch its output topic, and
// correlate the two.
//
// Each command (a JSON bank.Msg, keyed by account) is decided and evolved
// with the bank's own domain, bank.AccountDecider, against the account's
// state in memory, and answered by exactly one event (the answering
// bank.Msg: "opened", "debited", "debit-rejected", ...) on the output
// topic. The answer is keyed by the account, has a fresh message ID, and
// carries the command's correlation header and, in HeaderCausation, the
// command's message ID. A payload that does not decode is answered too,
// with "command-rejected", keyed like the command.
//
// Delivery is at-least-once: the answer is published, then the command
// acked, so a crash between the two redelivers the command and a checker
// sees its answer twice. A redelivered command whose message ID the
// service already handled (a bounded inbox of recent IDs) is acked and
// answered by nothing: its first answer stands. Commands are handled one
// at a time, so one account's answers are published in the order its
// commands were consumed. State and inbox are in memory: a restarted
// service has forgotten every account.
//
// A publish that fails is retried with backoff for a few seconds; past
// that Run stops with the error and the command goes back to the broker
// (Nack with requeue), so broker trouble never discards a command.
//
// Misbehaviour can be switched on (Config's DropEvery, DuplicateEvery,
// ReorderEvery) to prove that a black-box checker catches lost, doubled
// and reordered answers.
package service
