package check

import (
	"time"

	"github.com/edkit-dev/edkit/harness/history"
)

// Invariant names, as DESIGN.md numbers them. Reports and JUnit test cases
// use these names.
const (
	InvNoLoss        = "no-acknowledged-loss"   // 1
	InvNoPhantom     = "no-phantoms"            // 2
	InvConsumerOrder = "per-key-consumer-order" // 6
	InvNoDupDelivery = "no-duplicate-delivery"  // 7
	InvNoDupEffect   = "no-duplicate-effect"    // 8
	InvDLQAccounting = "dlq-accounting"         // 16
)

// Anomaly is one broken invariant: what broke, the minimal set of ops that
// proves it, and when in the run it happened.
type Anomaly struct {
	Invariant string `json:"invariant"`
	// Summary says in one line what went wrong, naming keys and message IDs.
	Summary string `json:"summary"`
	// Witness is the smallest set of ops that proves the anomaly.
	Witness []history.Op `json:"witness"`
	// At is the time of the op that completed the witness.
	At time.Duration `json:"at"`
}

// Result is a checker's verdict on one history.
type Result struct {
	Invariant string `json:"invariant"`
	// Valid is false when at least one anomaly was found and the run's
	// guarantee profile does not permit it.
	Valid bool `json:"valid"`
	// Checked counts what the checker examined (messages, keys, effects).
	Checked int `json:"checked"`
	// Permitted is true when anomalies were found but the configuration
	// declared them allowed (e.g. duplicates under at-least-once delivery).
	Permitted bool      `json:"permitted,omitempty"`
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	// Found counts every anomaly, including those a checker did not list
	// to keep reports readable; 0 means len(Anomalies).
	Found int `json:"found,omitempty"`
	// Note explains the verdict where the counts alone do not.
	Note string `json:"note,omitempty"`
}

// Settler is a Checker whose verdict depends on whether the run quiesced
// (a saga still running is in flight before, broken after): the harness
// tells it before judging.
type Settler interface {
	SetSettled(settled bool)
}

// Checker judges a history against one invariant.
type Checker interface {
	Name() string
	Check(ops []history.Op) Result
}
