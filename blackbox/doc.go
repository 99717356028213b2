// Package blackbox drives and judges a system edkit cannot import — a
// service in a container, in Go, Java or anything else — through its
// topics alone, from a workload file:
//
//	w, err := blackbox.ParseFile("workload.yaml")
//	o, err := w.Options()             // its broker, load and SLO
//	rep, err := harness.Run(ctx, blackbox.New(w), o)
//
// or `edload run -f workload.yaml`. edkit publishes each input (rendered
// from the file's templates with seeded generators, so a run replays
// exactly), watches the outputs with a consumer group of its own, and ties
// each output to its input by a correlation header edkit sets (the service
// copies it) or by JSON pointers into both payloads. When the file has a
// service section, edkit starts the service as a process of its own
// (process.StartService), on the run's broker, and stops it after.
//
// The judging happens as the run goes, in a ledger bounded by the inputs in
// flight: an input whose expected output has not come within its deadline
// is lost (output-for-every-input), a second answer to one input is a
// duplicate (no-duplicate-output; permitted with duplicates: allowed), an
// output answering no input of the run is a phantom (no-phantom-output),
// an output that came before the output of an earlier input of its key
// breaks order (per-key-output-order, for outputs with order: true), and
// one that fails its match fails outputs-match. End-to-end latency runs
// from an input's intended send time to its first correlated output, so
// the SLO ("e2e.p99<500ms") is the service's, from the user's side.
package blackbox
