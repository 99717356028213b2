// Package bustest is the conformance suite every bus backend runs:
// bustest.Run(t, Features{…}, newBus) from the backend's own test file.
// Rather than skipping tests by feature flag, every case measures what the
// broker did — messages lost, duplicated (delivered again after an ack),
// reordered per key, phantoms, and the most unsettled deliveries one
// subscription handed out — and fails only where a count breaks what the
// backend's Features promised (loss and phantoms break every profile).
// Run logs a guarantee table per backend in verbose mode and, with
// EDKIT_GUARANTEES_OUT=path, merges it into a markdown file
// (docs/guarantees.md).
//
// RestartNoLoss is the durability check beside it: publishers run while
// the broker is SIGKILLed through its environment handle and restarted,
// and every publish that was acknowledged must then be delivered; a
// publish that failed with bus.ErrOutcomeUnknown may or may not be.
package bustest
