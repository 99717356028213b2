package harness

import (
	"context"
	"log/slog"
	"time"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/harness/record"
	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reports"
)

// System is a system under test. Start wires it on env and returns it
// ready to run; it must not start goroutines that outlive the Instance's
// Run.
type System interface {
	// Name identifies the system in reports and on the command line.
	Name() string
	Start(ctx context.Context, env *Env) (Instance, error)
}

// Instance is one started system. One that also implements io.Closer is
// closed when the run ends, after its state was judged.
type Instance interface {
	// Run runs the system's consumers until ctx is done; an error means
	// the system failed on its own.
	Run(ctx context.Context) error
	// Send sends one intended operation. The run calls it from many
	// goroutines at once; an error counts as a send error.
	Send(ctx context.Context, op Op) error
	// Consumers names, per topic, the groups that must settle every message
	// published to it: the loss checker's and the quiescence wait's list.
	Consumers() map[string][]string
}

// Op is one intended operation of the load.
type Op struct {
	// Seq numbers operations from 0 in schedule order; Key is the load's key
	// for it (an aggregate, a customer), KeySeq its place among its key's
	// operations, from 1.
	Seq    uint64
	Key    string
	KeySeq int64
	// Step is the operation's place in its aggregate's sequence, from 0,
	// under a sequence key distribution (create, update, …, close); 0
	// otherwise.
	Step int
	// Intended is when the schedule said to send it: latencies start here.
	Intended time.Time
	// Payload is the load's payload, shared and read-only.
	Payload []byte
}

// Topics is implemented by systems whose topics must exist before they
// start (Kafka topics with their partition count).
type Topics interface {
	Topics() []string
}

// StateChecker is implemented by systems with invariants over their final
// state, judged after quiescence (saga outcomes, a conserved balance).
// sent is how many operations the load sent; settled whether the run
// quiesced.
type StateChecker interface {
	CheckState(ctx context.Context, sent uint64, settled bool) ([]check.Result, error)
}

// HistoryCheckers is implemented by systems with domain invariants over
// the recorded history, run beside the built-in checkers.
type HistoryCheckers interface {
	Checkers() []check.Checker
}

// OrderBy is implemented by systems where several producers publish to
// one key, each stamping its own sequence (services appending events of
// one aggregate): per-key order is then judged per producer, found as the
// returned source says, instead of raising false alarms.
type OrderBy interface {
	OrderBy() check.ProducerSource
}

// Idler is implemented by systems with work of their own that no message
// in flight shows — events stored but not yet relayed by an outbox, a timer
// due on the run's clock: the run counts the system settled only once Idle
// says so too.
type Idler interface {
	Idle() bool
}

// Foreigner is implemented by instances that watch topics their own
// processes publish to — a black-box service's outputs — with no publish
// edkit records: the phantom checker does not judge deliveries there.
type Foreigner interface {
	ForeignTopics() []string
}

// Counter is implemented by systems with counts of their own for the
// report (orders confirmed, transfers compensated).
type Counter interface {
	Counts(ctx context.Context) []reports.Count
}

// LatencyNamer is implemented by systems that use Env.Visible and
// Env.Settled, to say in the report what the two latencies measure.
type LatencyNamer interface {
	LatencyNames() (visible, settled string)
}

// Describer is implemented by systems with settings of their own for the
// report's configuration.
type Describer interface {
	Config() []reports.KV
}

// Env is what a run gives the system it starts.
type Env struct {
	// Bus is the run's broker. Every publish through it is recorded (and
	// stamped with a per-key sequence the order checker reads).
	Bus bus.Bus
	// Visible and Settled are latency trackers from each operation's
	// intended time: the system calls Start(id, op.Intended) when it sends
	// an operation, Visible.Done when its read model first shows it and
	// Settled.Done when its outcome is final. The run waits for Settled to
	// have nothing pending before it judges; unused trackers stay out of
	// the report.
	Visible, Settled *loadgen.Tracker
	// Dedup says whether the system should deduplicate deliveries (an
	// inbox): the gates judge duplicate effects either way.
	Dedup bool
	// Seed is the run's seed, for any choice the system makes.
	Seed int64
	// Clock is the time the system must read for its timers and deadlines
	// (Options.Clock; the real clock unless a scenario runs on virtual time).
	Clock clock.Clock
	// Logger receives the system's warnings.
	Logger *slog.Logger
	// Broker is the run's broker component — its endpoint, for a system
	// that starts processes of its own that must reach it (a black-box
	// service), and its fault capabilities; nil for membus.
	Broker env.Component

	rec    *history.Recorder
	ledger *record.Ledger
	wrap   func(group string, h bus.Handler) bus.Handler
	// observed is set when the run observes the system's dead-letter
	// topics: DeadLetter then records nothing of its own.
	observed bool
}

// Consumer wraps the handler of one consumer group: its deliveries, acks
// and nacks are recorded, and the run's message faults are injected in
// front of it. Every handler of the system must go through it.
func (e *Env) Consumer(group string, h bus.Handler) bus.Handler { return e.wrap(group, h) }

// Effect records a side effect of the delivery being handled (ctx is the
// handler's): the duplicate-effect checker counts them per message.
func (e *Env) Effect(ctx context.Context, name string) { record.Effect(ctx, e.rec, name) }

// DeadLetter records that group dead-lettered m (call it from
// bus.OnDeadLetter). For a system that names its dead-letter topics
// (DeadLetterTopics) the run records what reaches them instead, and this
// only tells the recorder the delivery was not acked as processed.
func (e *Env) DeadLetter(ctx context.Context, group string, m *bus.Message, reason string, attempts int) {
	if e.observed {
		record.MarkDeadLettered(ctx)
		return
	}
	record.DeadLetter(ctx, e.rec, group, m, reason, attempts)
}

// Recorder is the run's history recorder, for systems that record
// operations of their own.
func (e *Env) Recorder() *history.Recorder { return e.rec }
