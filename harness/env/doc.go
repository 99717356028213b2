// Package env starts and stops the components a test or run needs — brokers,
// stores — and hands out handles to them. A provider decides how a component
// comes to life:
//
//   - embedded: in this process (Kafka via franz-go's kfake), zero setup; the
//     default, and the only provider built so far (StartEmbedded);
//   - process: a locally installed server on free loopback ports in a temp
//     dir (planned);
//   - container: testcontainers-go with pinned images (planned);
//   - external: addresses from configuration (planned).
//
// Whatever the provider, an Environment exposes the same handles (Kafka,
// with Brokers and Name), so code under test never knows which one it got.
// Fault capabilities are optional interfaces a handle may implement —
// Pauser, Killer — found by type assertion, so chaos code asks "can this
// broker be paused?" instead of switching on the provider. Close stops
// everything the Environment started and nothing else.
package env
