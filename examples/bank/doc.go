// Package bank is a small bank on an event bus, written the way an edkit
// user writes a system of their own: a plain domain over
// reference/bus (bank.go) and a few dozen lines of glue that make it an
// edkit system under test (system.go).
//
// Accounts live on the command side (group "accounts" on "bank.commands").
// A transfer is a two-step saga (group "transfers" on "bank.events"):
// debit the source — rejected when funds are short, with nothing to undo —
// then credit the target; when the credit fails (the target is frozen or
// does not exist), or does not answer within CreditTimeout, the saga
// compensates by refunding the source. The account (AccountDecider) and
// the saga (TransferSaga, ReactTransfer, OnTransferDeadline) are written
// on edkit's cqrs and saga types, so edkit's given/when/then fixtures test
// them (fixture_test.go), the deadline on virtual time. A balance
// projection (group "balances" on "bank.events") is the read model. Every
// handler keeps an inbox of the message IDs it handled, so a redelivered
// message never moves money twice.
//
// The bank's invariants: money is conserved (the accounts hold what they
// were opened with, and the projection shows the same), and every transfer
// ends completed, rejected or compensated — never half done.
//
// Bugs can be switched on (Bugs) to prove that edkit's gates catch them.
package bank
