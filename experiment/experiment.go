package experiment

import (
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/blackbox"
	"github.com/edkit-dev/edkit/harness"
)

// Experiment is one parsed experiment file: what to break, under what
// load, and what must hold before, while and after.
type Experiment struct {
	File, Title, Description string
	// System names a system the front end knows (edload's --system);
	// Workload, instead, is a black-box workload file (resolved against
	// the experiment file's directory). One of the two is set.
	System, Workload string
	Broker           harness.Broker
	// BrokerSet says the file gave a broker (a workload's own is used
	// otherwise).
	BrokerSet bool
	Load      blackbox.Load
	LoadSet   bool
	// Hypothesis is the steady state: checked on every sample of the
	// run's series before the first fault and after each recovery.
	Hypothesis Hypothesis
	// Method is the faults at given times; Nemesis, instead, draws them
	// from the run's seed.
	Method  []Step
	Nemesis *Nemesis
	// Recovery bounds how long after each heal the hypothesis must hold
	// again.
	Recovery time.Duration
}

// Hypothesis is a steady state in the run's own figures, per sample.
type Hypothesis struct {
	// MinThroughput is the operations completed per second (0: not
	// probed).
	MinThroughput float64
	// MaxE2EP99 bounds the end-to-end p99 of each sample (0: not probed).
	MaxE2EP99 time.Duration
	// MaxInFlight bounds what is started and not settled (0: not probed).
	MaxInFlight int
}

// Step is one fault of a method, held from At for Hold.
type Step struct {
	Fault    string // one of Faults
	At, Hold time.Duration
	// Latency and Jitter shape a latency fault; KBps a bandwidth one.
	Latency, Jitter time.Duration
	KBps            int
	// Rate is the fraction of deliveries a message fault (lose-ack)
	// disturbs while held.
	Rate float64
}

// Nemesis draws the faults from the run's seed, one at a time.
type Nemesis struct {
	Faults    []string
	Hold, Gap [2]time.Duration
}

// Faults are the fault names a method takes, on the run's broker: kill
// (restarted on heal), stop, pause, partition (two-way), one-way (replies
// lost), latency, bandwidth, reset-peer. The network ones need a proxied
// broker (broker: {proxied: true}).
// lose-ack is a message fault on the system's consumers (any broker, even
// memory): while held, a Rate of deliveries are handled and their ack
// lost, so the handler gets them again.
var Faults = []string{"kill", "stop", "pause", "partition", "one-way", "latency", "bandwidth", "reset-peer", "lose-ack"}

// SpecError is one problem in an experiment file, at file:line:column.
type SpecError struct {
	File         string
	Line, Column int
	Msg          string
}

// Error renders file:line:column: msg.
func (e *SpecError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return e.File + ": " + e.Msg
}
