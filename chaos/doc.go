// Package chaos injects faults while a system runs, on a seeded schedule so
// that a failing run can be replayed.
//
// A Fault is a value: Inject breaks something and returns the Heal that
// undoes it. Pause, Kill, Stop and Partition make faults of an environment
// component by the capabilities it has (env.Pauser, env.Killer, …), refusing
// with ErrUnsupported when it lacks one. A Nemesis draws a seeded Schedule
// of fault intervals (Jepsen-style; the same seed, the same schedule), and
// During runs work under a schedule, healing every injected fault before it
// returns — when the work ends, fails, panics or is cancelled — and
// recording each injection and heal in the history (history.Fault) and a
// journal.
//
// MessageFault is bus middleware that drops, duplicates, reorders, delays
// and corrupts a seeded fraction of deliveries and journals each
// injection, so the checkers in harness/check can be shown to catch what
// it breaks. Experiment files, recovery figures, shrinking and recovery
// after a SIGKILL of edload are not built yet.
package chaos
