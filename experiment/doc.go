// Package experiment runs chaos experiments in the manner of Chaos
// Toolkit: a steady-state hypothesis, a method of faults, rollbacks that
// always run, and a journal — on any system edkit runs (a harness.System,
// or a black-box workload), under load, judged by edkit's invariants too.
//
// The hypothesis is written in the run's own figures — completions per
// second, end-to-end p99, operations in flight — and checked on every
// sample of the run's time series: before the first fault (the system
// must be in its steady state to begin with), while each fault is held
// (recorded, not judged: a fault is meant to hurt), and after each heal,
// where it must hold again within the recovery time, two samples in a
// row. Each fault's recovery figures — time to steady state, the lag's
// peak, time to drain — go into the journal (experiment.json). Rollbacks
// are chaos.During's: every fault is healed before the run returns, on
// success, failure, timeout and Ctrl-C.
package experiment
