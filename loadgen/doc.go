// Package loadgen generates open-loop load and measures latency honestly.
//
// Open loop means requests are scheduled by a Pacer, not by the completion of
// earlier requests: a scheduler goroutine computes each request's intended
// send time and hands it to a bounded worker pool. Latency is measured from
// the intended time, never from the moment a worker happened to get round to
// sending, so a system that stalls cannot hide its stall by slowing the
// generator down (the "coordinated omission" problem described by Gil Tene and
// addressed by wrk2). How far behind schedule sends went is reported
// separately as the schedule lag.
//
// Load is shaped in time by a Pacer: ConstantPacer, RampPacer (linear from one
// rate to another, to find where a system starts to fall behind) or
// StepPacer (plateaus long enough for latency to settle at each rate); each
// knows every request's exact due time. It is shaped over keys by a
// KeyDist: uniform, Zipf, a few hot keys, or per-aggregate sequences
// (create, update, ..., close). Key choice is a pure function of the seed and
// the request number, so a run replays from its seed. ParseRate and
// ParseKeys read both as a command line spells them. Config.WarmUp keeps the
// start of a run out of the statistics.
//
// Run drives a Driver (one method: Send) for a Config; Tracker measures a
// second, end-to-end latency for the same requests (for example "command sent
// → read model shows it"); Progress reports live snapshots to a terminal
// progress bar or a plain log.
//
// All latencies are recorded in HDR histograms at microsecond resolution
// (1µs..60s, 3 significant figures) and summarised as a Summary.
package loadgen
