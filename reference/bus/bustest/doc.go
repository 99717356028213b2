// Package bustest is the conformance suite every bus backend runs:
// bustest.Run(t, Features{…}, newBus) from the backend's own test file.
// Rather than skipping tests by feature flag, every case measures what the
// broker did — messages lost, duplicated (delivered again after an ack),
// reordered per key, phantoms, the most unsettled deliveries one
// subscription handed out, and requeues that stalled their key — and fails
// only where a count breaks what the backend's Features promised (loss,
// phantoms and stalls break every profile).
// Run logs a guarantee table per backend in verbose mode and, with
// EDKIT_GUARANTEES_OUT=path, merges it into a markdown file
// (docs/guarantees.md).
//
// RestartNoLoss is the durability and liveness check beside it:
// publishers and the members of a group run while the broker is SIGKILLed
// through its environment handle and restarted, twice, and every publish
// that was acknowledged must then reach the group within a read window
// past the backend's reclaim intervals; a publish that failed with
// bus.ErrOutcomeUnknown may or may not, and duplicates are bounded.
package bustest
