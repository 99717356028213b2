package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/ownership"
	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/harness/record"
	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reports"
)

// Options shape one run. The zero value is not useful: front ends fill it
// from flags or a test's settings.
type Options struct {
	// Name names the run in reports (default the system's name).
	Name string
	// Command is the command line that produced the run, for the report.
	Command string
	// Broker is the environment the run starts for the system.
	Broker Broker
	// Load is the open-loop load; LoadOptions adjust it (progress output,
	// key names, another pacer).
	Load        loadgen.Config
	LoadOptions []loadgen.Option
	// Fault is injected in front of every consumer handler. Left nil, the
	// run injects DefaultFault: a run with no fault at all tests little
	// (redelivery is what deduplication, per-key order and idempotency
	// exist for), so none is an explicit choice: NoFault.
	Fault   *chaos.MessageFault
	NoFault bool
	// Dedup is handed to the system (Env.Dedup).
	Dedup bool
	// Quiesce bounds the wait, after the load, for the system to settle.
	Quiesce time.Duration
	// MinRate fails the run when the achieved rate is below this fraction
	// of Load.Rate; MaxP99, when set, when the end-to-end p99 is above it.
	MinRate float64
	MaxP99  time.Duration
	// SLO adds a threshold per objective (ParseSLO: "e2e.p99<50ms"), the
	// way k6 thresholds do; FindMax searches for the highest rate that
	// meets it.
	SLO SLO
	// Out, when set, is the run directory: the history is streamed there
	// (history.FileName), and checks.json, report.json and junit.xml are
	// written at the end; `edload check` re-judges it. Left empty, the
	// history streams to a temporary directory removed after the checks.
	// Out must not be a symbolic link, and a directory that already holds
	// a run is refused (ErrRunDirExists) unless Replace is set; one that
	// holds anything else is always refused.
	Out string
	// Replace lets a run overwrite the run in Out (its files only).
	Replace bool
	// Profile is what the run permits (default the broker's guarantee
	// profile, AtLeastOnce).
	Profile *Profile
	// Config lists the front end's settings for the report.
	Config []reports.KV
	// OnStart is called once the environment is up, with its name
	// ("embedded-kafka"), just before the load starts.
	OnStart func(broker string)
	// Logger receives the system's warnings (default: discarded).
	Logger *slog.Logger
	// Clock is handed to the system (Env.Clock): a virtual clock lets a
	// scenario jump over a 30-minute timeout (default the real clock).
	Clock clock.Clock
	// Nemesis, when set, builds the faults the run injects during the load
	// on its broker (broker is nil for membus, which has no process to
	// break) and their schedule, measured from the load's start
	// (chaos.Nemesis draws one from a seed). Every fault is healed before
	// the run waits for quiescence, whatever happens to the load, and each
	// injection and heal is in the history.
	Nemesis func(broker env.Component) ([]chaos.Fault, chaos.Schedule, error)
	// SampleEvery is the interval of the run's time series (report.json's
	// series; default DefaultSampleEvery).
	SampleEvery time.Duration
	// HistoryInMemory keeps the history in memory instead of streaming it
	// to a run directory (Out must be empty): for scenarios, whose
	// histories are tens of ops and which start hundreds of sessions a
	// second. A load run's history grows with its length; never set it
	// there.
	HistoryInMemory bool
}

// EnvError means the environment could not be started (exit code 3).
type EnvError struct{ Err error }

func (e *EnvError) Error() string { return "environment: " + e.Err.Error() }
func (e *EnvError) Unwrap() error { return e.Err }

// Run takes sys through the whole pipeline and returns the run's report;
// it stops everything it started before it returns, whatever happens. The
// error is for a run that could not be carried out, not for a broken
// invariant: that is in the report (reports.Run.OK).
func Run(ctx context.Context, sys System, o Options) (_ *reports.Run, err error) {
	started := time.Now()
	s, err := Start(ctx, sys, o)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	r := s.r
	if err := r.drive(ctx, s); err != nil {
		return nil, err
	}
	// The run is over: the history is complete and can be judged.
	if err := s.Stop(); err != nil {
		return nil, err
	}
	rep, err := r.report(ctx, s, started)
	if err != nil {
		return nil, err
	}
	if o.Out != "" {
		if err := reports.WriteDir(o.Out, rep); err != nil {
			return nil, fmt.Errorf("write report: %w", err)
		}
	}
	return rep, nil
}

// achievedRate names the threshold on the load's achieved rate.
const achievedRate = "achieved rate"

// DefaultFault is the message fault a run injects unless told otherwise:
// 2 % of deliveries duplicated and 2 % delayed by up to 20 ms, replayable
// from seed.
func DefaultFault(seed int64) chaos.MessageFaultConfig {
	return chaos.MessageFaultConfig{Seed: seed, Duplicate: 0.02, Delay: 0.02, MaxDelay: 20 * time.Millisecond}
}

// ErrRunDirExists is a run directory that already holds a run: a run
// does not overwrite another's evidence unless told to (Options.Replace).
var ErrRunDirExists = errors.New("harness: the run directory already holds a run")

// runFiles are the files a run writes into its directory: all Replace
// removes, and what tells a run directory from any other.
var runFiles = []string{history.FileName, ChecksFile, reports.JSONFile, reports.JUnitFile, reports.MarkdownFile,
	"experiment.json"} // a chaos experiment's journal (package experiment) beside its run

// runDir is the directory the history streams to: out, or a temporary one
// that remove deletes. out is created if missing; it is never a symbolic
// link (a run writes where it was told, not where a link points), and an
// existing run in it is replaced only when asked.
func runDir(out string, replace bool) (dir string, remove func(), err error) {
	if out == "" {
		dir, err = ownership.MkdirTemp("", "edkit-run-")
		if err != nil {
			return "", nil, fmt.Errorf("run directory: %w", err)
		}
		return dir, func() { _ = os.RemoveAll(dir) }, nil
	}
	exists, err := CheckRunDir(out, replace)
	if err != nil {
		return "", nil, err
	}
	if !exists {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil { //nolint:gosec // G301: a report directory, readable on purpose
			return "", nil, fmt.Errorf("run directory: %w", err)
		}
		if err := os.Mkdir(out, 0o755); err != nil { //nolint:gosec // G301: as above
			return "", nil, fmt.Errorf("run directory: %w", err)
		}
		return out, func() {}, nil
	}
	for _, name := range runFiles {
		if err := os.Remove(filepath.Join(out, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", nil, fmt.Errorf("run directory: %w", err)
		}
	}
	return out, func() {}, nil
}

// CheckRunDir reports whether a run may use out as its directory
// (Options.Out), and whether it exists, changing nothing: a front end
// calls it to refuse a bad --out before any broker starts. A missing or
// empty directory may be used; one holding a run only with replace; a
// symbolic link, a file, or a directory holding anything else never.
func CheckRunDir(out string, replace bool) (exists bool, err error) {
	fi, err := os.Lstat(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("run directory: %w", err)
	case fi.Mode()&os.ModeSymlink != 0:
		return true, fmt.Errorf("run directory %s is a symbolic link: give the directory itself", out)
	case !fi.IsDir():
		return true, fmt.Errorf("run directory %s is not a directory", out)
	}
	return true, checkRunDirFiles(out, replace)
}

// checkRunDirFiles refuses a directory holding files that are not a
// run's, or a run when replace is not set.
func checkRunDirFiles(out string, replace bool) error {
	entries, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	var foreign []string
	hasRun := false
	for _, e := range entries {
		if slices.Contains(runFiles, e.Name()) {
			hasRun = true
		} else if !e.IsDir() || !strings.HasPrefix(e.Name(), "probe-") {
			foreign = append(foreign, e.Name())
		}
	}
	switch {
	case len(foreign) > 0:
		return fmt.Errorf("run directory %s holds files that are not a run's (%s): give an empty or new directory", out, strings.Join(foreign[:min(len(foreign), 3)], ", "))
	case hasRun && !replace:
		return fmt.Errorf("%s: %w (replace it with --replace, or give a new directory)", out, ErrRunDirExists)
	}
	return nil
}

func newEnv(b bus.Bus, rec *history.Recorder, o Options) *Env {
	ledger := record.NewLedger()
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fault := o.Fault
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return &Env{
		Bus:     record.NewBus(newResubscribing(b, rec), rec, "loadgen", record.WithLedger(ledger)),
		Visible: loadgen.NewTracker(), Settled: loadgen.NewTracker(),
		Dedup: o.Dedup, Seed: o.Load.Seed, Logger: logger, Clock: o.Clock,
		rec: rec, ledger: ledger,
		wrap: func(group string, h bus.Handler) bus.Handler {
			h = bus.WithMessageContext()(h) // Env.Effect names the message from ctx
			h = record.Consumer(rec, group, record.WithLedger(ledger))(h)
			if fault != nil {
				h = fault.Middleware(group)(h)
			}
			return h
		},
	}
}

// run is one run's state between the stages.
type run struct {
	sys      System
	inst     Instance
	env      *Env
	o        Options
	rec      *history.Recorder
	bus      bus.Bus // the broker, unrecorded: edkit's own observers
	dir      string
	load     *loadgen.Result
	quiesced bool
	// unsettled counts, when the quiesce deadline passed, the messages
	// some group had not settled plus the operations not yet final.
	unsettled int
	// faults is the nemesis's journal (nil without one).
	faults  []chaos.Action
	sampler *sampler
}

// drive sends the load to the started system and waits for quiescence.
func (r *run) drive(ctx context.Context, s *Session) error {
	if r.o.OnStart != nil {
		r.o.OnStart(s.broker)
	}
	stopSampling := r.sampling(s)
	defer stopSampling()
	sm := r.sampler
	driver := loadgen.DriverFunc(func(ctx context.Context, q loadgen.Request) error {
		sm.sent.Add(1)
		err := r.inst.Send(ctx, Op{Seq: q.Seq, Key: q.Key, KeySeq: q.KeySeq, Step: q.Op, Intended: q.Intended, Payload: q.Payload})
		if err != nil {
			sm.errors.Add(1)
		} else {
			sm.ok.Add(1)
		}
		return err
	})
	res, err := r.runLoad(s, driver)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.Failed() != nil {
			return s.Stop() // the system's failure, said once (Close does not stop again)
		}
		return err
	}
	r.load = res
	r.quiesced, r.unsettled = s.Quiesce(ctx)
	stopSampling() // the series runs until the system settled: recovery is part of it
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if s.Failed() != nil {
		return s.Stop()
	}
	return nil
}

// runLoad runs the open-loop load, under the nemesis when the run has one.
func (r *run) runLoad(s *Session, driver loadgen.Driver) (*loadgen.Result, error) {
	if r.o.Nemesis == nil {
		return loadgen.Run(s.runCtx, r.o.Load, driver, r.o.LoadOptions...)
	}
	faults, sched, err := r.o.Nemesis(s.component)
	if err != nil {
		return nil, fmt.Errorf("nemesis: %w", err)
	}
	var res *loadgen.Result
	var loadErr error
	// A fault that failed to inject or heal is in the journal and fails
	// the run by a threshold (nemesisCounts); the run itself goes on.
	journal, faultErr := chaos.During(s.runCtx, clock.Real{}, sched, faults, r.rec, func(ctx context.Context) error {
		res, loadErr = loadgen.Run(ctx, r.o.Load, driver, r.o.LoadOptions...)
		return loadErr
	})
	r.faults = journal
	if res == nil && loadErr == nil {
		return nil, fmt.Errorf("nemesis: %w", faultErr) // refused before the load began (a bad schedule)
	}
	return res, loadErr
}

// quiesceGroups are the groups the run waits for: the system's, and
// edkit's observer on each dead-letter topic, so that every copy that
// reached a DLQ is seen before the run judges.
func (r *run) quiesceGroups() map[string][]string {
	groups := maps.Clone(r.inst.Consumers())
	if groups == nil {
		groups = map[string][]string{}
	}
	if d, ok := r.sys.(DeadLetterTopics); ok {
		for _, t := range d.DeadLetterTopics() {
			groups[t] = append(groups[t], dlqObserver)
		}
	}
	return groups
}

// runAll runs the system and edkit's dead-letter observers until ctx ends;
// the first to fail ends the rest.
func (r *run) runAll(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var topics []string
	if d, ok := r.sys.(DeadLetterTopics); ok {
		topics = d.DeadLetterTopics()
	}
	errs := make(chan error, len(topics)+1)
	go func() { errs <- r.inst.Run(ctx) }()
	obs := newResubscribing(r.bus, r.rec)
	for _, t := range topics {
		go func() {
			if err := observeDLQ(ctx, obs, r.rec, r.env.ledger, t); err != nil {
				errs <- fmt.Errorf("observing dead-letter topic %s: %w", t, err)
				return
			}
			errs <- nil
		}()
	}
	var first error
	for range len(topics) + 1 {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// waitQuiet polls settled until it holds, the timeout passes, or the
// system fails. It reports whether the system quiesced and, if not,
// whether it was still busy at the deadline — progress (the history's
// length) grew in the last second — so that what it had not settled may
// have been in flight rather than lost.
func waitQuiet(ctx context.Context, timeout time.Duration, failed <-chan struct{}, settled func() bool, progress func() int) (quiesced, busy bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// Poll every 100 µs for the first 5 ms, then back off to 20 ms: a
	// scenario's few messages settle within a millisecond or two, and a
	// fixed 20 ms tick made each of its waits cost that.
	poll := time.NewTimer(0)
	defer poll.Stop()
	const fast, fastFor, slow = 100 * time.Microsecond, 5 * time.Millisecond, 20 * time.Millisecond
	started, wait := time.Now(), fast
	idle := min(time.Second, timeout/2)
	last, lastChange := progress(), time.Now()
	// settled reads several counters one after another, not at one
	// instant: a relay can publish between two of them and each read
	// looks quiet. So the system counts as settled only when two polls in
	// a row say so and the history did not grow between them.
	quietAt := -1
	for {
		n := progress()
		if settled() {
			if quietAt == n {
				return true, false
			}
			quietAt = n
		} else {
			quietAt = -1
		}
		poll.Reset(wait)
		if time.Since(started) > fastFor {
			wait = min(2*wait, slow)
		}
		select {
		case <-ctx.Done():
			return false, false
		case <-deadline.C:
			return false, time.Since(lastChange) < idle
		case <-failed:
			return false, false
		case <-poll.C:
			if n := progress(); n != last {
				last, lastChange = n, time.Now()
			}
		}
	}
}

// judgement is how this run's history is judged.
func (r *run) judgement() Checks {
	p := profileFor(r.o.Broker)
	if r.o.Profile != nil {
		p = *r.o.Profile
	}
	order := check.SingleProducer
	if ob, ok := r.sys.(OrderBy); ok {
		order = ob.OrderBy()
	}
	c := Checks{System: r.sys.Name(), Consumers: r.inst.Consumers(), Profile: p, Order: orderName(order),
		Quiesced: r.quiesced, Busy: r.unsettled > 0}
	if f, ok := r.inst.(Foreigner); ok {
		c.Foreign = f.ForeignTopics()
	}
	return c
}

// checks writes checks.json when the run has a directory, then judges
// the history and the system's final state.
func (r *run) checks(ctx context.Context, s *Session) ([]check.Result, error) {
	if r.o.Out != "" {
		if err := r.judgement().write(r.o.Out); err != nil {
			return nil, fmt.Errorf("write checks: %w", err)
		}
	}
	return s.Judge(ctx, r.load.Sent, r.quiesced)
}

// judgingHeadroom is the memory the checks may use above what the process
// already holds when they start.
const judgingHeadroom = 128 << 20

// boundJudging sets Go's soft memory limit to the heap in use plus
// judgingHeadroom while the history is judged, so that the garbage the
// partition passes leave behind is collected before it doubles the heap
// (GOGC alone lets the heap reach twice the live data); the returned
// function restores the previous limit.
func boundJudging() func() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := int64(ms.HeapInuse+ms.StackInuse+ms.GCSys+ms.OtherSys) + judgingHeadroom
	prev := debug.SetMemoryLimit(-1)
	if prev < limit {
		return func() {}
	}
	debug.SetMemoryLimit(limit)
	return func() { debug.SetMemoryLimit(prev) }
}

// judgeHistory judges the history file at path as c says, with sys's own
// history checkers when it has some (sys may be nil), and extra.
func judgeHistory(path, tmp string, c Checks, sys System, extra ...check.Checker) ([]check.Result, error) {
	checkers, err := judges(c, sys, extra)
	if err != nil {
		return nil, err
	}
	f, err := history.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer func() { _ = f.Close() }()
	defer boundJudging()()
	results, err := check.RunStream(f, check.StreamOptions{TempDir: tmp}, checkers...)
	if err != nil {
		return nil, fmt.Errorf("check history: %w", err)
	}
	return results, nil
}

// judges are the checkers c names, sys's own and extra, each told whether
// the run settled.
func judges(c Checks, sys System, extra []check.Checker) ([]check.Checker, error) {
	checkers, err := c.Checkers()
	if err != nil {
		return nil, err
	}
	if hc, ok := sys.(HistoryCheckers); ok {
		checkers = append(checkers, hc.Checkers()...)
	}
	checkers = append(checkers, extra...)
	for _, ch := range checkers {
		if st, ok := ch.(check.Settler); ok {
			st.SetSettled(c.Quiesced)
		}
	}
	return checkers, nil
}

// report builds the run's report: counts, latencies, verdicts, thresholds.
func (r *run) report(ctx context.Context, s *Session, started time.Time) (*reports.Run, error) {
	brokerName := s.broker
	results, err := r.checks(ctx, s)
	if err != nil {
		return nil, err
	}
	name := r.o.Name
	if name == "" {
		name = r.sys.Name()
	}
	res := r.load
	rep := &reports.Run{
		Name: name, Command: r.o.Command, StartedAt: started, Duration: time.Since(started), Seed: r.o.Load.Seed,
		Config: append([]reports.KV{{Key: "broker", Value: brokerName}, {Key: "guarantee profile", Value: r.judgement().Profile.Name}}, r.o.Config...),
		Counts: []reports.Count{
			{Name: "commands sent", Value: int64(res.Sent)},
			{Name: "commands acked", Value: int64(res.OK)},
			{Name: "send errors", Value: int64(res.Errors)},
		},
		Invariants: results,
		Thresholds: []reports.Threshold{
			reports.AtMost("send errors", float64(res.Errors), 0, ""),
			reports.AtLeast(achievedRate, res.Rate, r.o.MinRate*r.o.Load.Rate, "msg/s"),
			// A run still busy at the quiesce deadline proves neither loss
			// nor its absence: it fails on this, by name, instead of
			// reporting a loss. (A run that stopped making progress with
			// messages unsettled has lost them: the loss checker says so.)
			reports.AtMost("unsettled at the quiesce deadline", float64(r.unsettled), 0, ""),
		},
	}
	if d, ok := r.sys.(Describer); ok {
		rep.Config = append(rep.Config, d.Config()...)
	}
	if c, ok := r.inst.(Counter); ok {
		rep.Counts = append(rep.Counts, c.Counts(ctx)...)
	}
	rep.Counts = append(rep.Counts, reports.Count{Name: "history ops", Value: int64(r.rec.Len())})
	rep.Counts = append(rep.Counts, faultCounts(r.o.Fault)...)
	if r.o.Nemesis != nil {
		counts, failed := nemesisCounts(r.faults)
		rep.Counts = append(rep.Counts, counts...)
		rep.Thresholds = append(rep.Thresholds, reports.AtMost(failed.Name, float64(failed.Value), 0, ""))
	}
	rep.Latencies = r.latencies()
	rep.Series, rep.Faults = r.sampler.result(), faultSpans(r.faults)
	rep.Thresholds = append(rep.Thresholds, r.o.SLO.thresholds(map[string]loadgen.Summary{
		"send": r.load.Latency, "e2e": r.env.Visible.Summary(), "settled": r.env.Settled.Summary()})...)
	if r.o.MaxP99 > 0 {
		p99 := r.env.Visible.Summary().P99
		rep.Thresholds = append(rep.Thresholds, reports.AtMost("end-to-end p99", float64(p99.Milliseconds()), float64(r.o.MaxP99.Milliseconds()), "ms"))
	}
	return rep, nil
}

// latencies are the send latency, the system's visible and settled
// latencies where it tracked them, and the schedule lag.
func (r *run) latencies() []reports.Latency {
	visible, settled := "end-to-end (intended → read model)", "settled (intended → outcome final)"
	if n, ok := r.inst.(LatencyNamer); ok {
		visible, settled = n.LatencyNames()
	}
	out := []reports.Latency{latency("send (intended → broker ack)", r.load.Latency)}
	if s := r.env.Visible.Summary(); s.Count > 0 {
		out = append(out, latency(visible, s))
	}
	if s := r.env.Settled.Summary(); s.Count > 0 {
		out = append(out, latency(settled, s))
	}
	return append(out, latency("schedule lag", r.load.ScheduleLag))
}

func latency(name string, s loadgen.Summary) reports.Latency {
	return reports.Latency{Name: name, Count: s.Count, Min: s.Min, Mean: s.Mean, P50: s.P50, P90: s.P90,
		P99: s.P99, P999: s.P999, Max: s.Max}
}

// nemesisCounts are the report's counts of the nemesis's faults, and the
// one of them a run is gated on.
func nemesisCounts(journal []chaos.Action) (counts []reports.Count, failed reports.Count) {
	var injected, healed int64
	failed.Name = "nemesis: injections or heals failed"
	for _, a := range journal {
		switch {
		case a.Error != "":
			failed.Value++
		case a.Kind == "inject":
			injected++
		default:
			healed++
		}
	}
	return []reports.Count{{Name: "nemesis: faults injected", Value: injected}, {Name: "nemesis: faults healed", Value: healed}, failed}, failed
}

// faultCounts are the report's counts of injected faults.
func faultCounts(fault *chaos.MessageFault) []reports.Count {
	if fault == nil {
		return nil
	}
	names := []struct{ kind, name string }{
		{chaos.KindDuplicate, "duplicated"}, {chaos.KindDelay, "delayed"}, {chaos.KindDrop, "dropped"},
		{chaos.KindReorder, "reordered"}, {chaos.KindCorrupt, "corrupted"},
	}
	var out []reports.Count
	for _, n := range names {
		out = append(out, reports.Count{Name: "faults: " + n.name + " deliveries", Value: int64(fault.Count(n.kind))})
	}
	return out
}
