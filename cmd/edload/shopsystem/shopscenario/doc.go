// Package shopscenario runs given/when/then specifications of the shop
// reference system, written in YAML (scenarios/shop/*.yaml) or with a Go
// DSL, in memory and on real brokers from the same spec. It is the shop's
// scenario vocabulary, so it lives with the shop's plug-in, not in the
// toolkit's scenarios package; Provider offers it to `edload scenario`.
//
// A Scenario sets up the world (stock, declined customers, service
// configuration), runs Given steps to quiescence, applies When steps
// (commands, duplicate commands, raw events, poison messages) and checks
// Then expectations against the read model, the event store, the payment
// gateway, the inventory, the dead-letter record and the transcript of
// every delivery. Each expectation must hold within a bounded wait and
// still hold once the system is quiescent, so late duplicates fail.
//
// Scenario files are parsed on yaml.Node: every problem is a *SpecError
// naming file:line:column and what was expected, and the parser is fuzzed.
// Run takes a Target: InMemory (membus) or Kafka (kafkabus, one namespace
// of topics and groups per run, so one cluster serves a whole test binary).
// Pass and HaveReceivedCommands are Gomega matchers over an *Outcome.
package shopscenario
