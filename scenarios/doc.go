// Package scenarios is edkit's given/when/then layer: the contract by which
// a system offers scenario files to `edload scenario` (Provider, Case,
// Verdict) and the file:line:column error every scenario parser returns
// (SpecError).
//
// A system's scenario vocabulary is its own: the shop's files speak of
// stock, orders and charges (cmd/edload/shopsystem/shopscenario runs them,
// the files are in scenarios/shop), a bank's would speak of accounts and
// transfers. The runner of each lives with the system, so that no toolkit
// package depends on a domain; this package holds what every runner shares.
// Typed given/when/then fixtures for any aggregate, saga and projection
// are in scenarios/fixture.
package scenarios
