// Package metrics counts what the bus does, as Prometheus collectors, so an
// operator can see throughput, failures, dead letters and handler latency
// per topic and consumer group without reading logs, and a scenario can
// check that published = acked + dead-lettered once the system is quiet.
//
// New registers the collectors (namespace edkit_bus) on a Registerer the
// caller chooses, never the global one. Metrics.Publisher counts publishes;
// Metrics.Middleware counts deliveries, outcomes, in-flight handlers and
// handler latency for one group; Metrics.OnDeadLetter plugs into
// bus.OnDeadLetter to count dead letters. Latency is read from an injected
// clock (Now), so tests and virtual-time scenarios get exact figures.
package metrics
