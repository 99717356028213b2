// Package env starts and stops the components a test or run needs — brokers,
// stores — and hands out handles to them. A provider decides how a component
// comes to life:
//
//   - embedded (harness/env/embedded): Kafka (franz-go's kfake) and NATS
//     JetStream in this process, or as a child process of edkit-broker;
//     zero setup, the default;
//   - process (harness/env/process): a locally installed server on free
//     loopback ports in a temp dir;
//   - container (harness/env/container): testcontainers-go with pinned images;
//   - external: addresses from configuration.
//
// A Spec lists ComponentSpecs; Start starts them concurrently with the
// providers the caller wires in (WithProvider — there is no global
// registry) and returns an Environment. Whatever the provider, a component
// is the same Component handle — Name, Kind, Provider, Endpoint, Close — so
// code under test never knows which one it got. Fault capabilities are
// optional interfaces a handle may implement — Stopper, Killer, Restarter,
// Pauser, Partitioner, LogSource — found by type assertion, so chaos code
// asks "can this broker be paused?" instead of switching on the provider.
// Close stops everything the Environment started and nothing else.
package env
