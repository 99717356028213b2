package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/clock"
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
	// Out, when set, is the run directory: history.jsonl is streamed there
	// and report.json and junit.xml written at the end.
	Out string
	// Config lists the front end's settings for the report.
	Config []reports.KV
	// OnStart is called once the environment is up, with its name
	// ("embedded-kafka"), just before the load starts.
	OnStart func(broker string)
	// Logger receives the system's warnings (default: discarded).
	Logger *slog.Logger
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
	rec, closeHistory, err := newRecorder(o.Out)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closeHistory()) }()

	var topics []string
	if t, ok := sys.(Topics); ok {
		topics = t.Topics()
	}
	b, brokerName, stopBus, err := o.Broker.start(ctx, topics)
	if err != nil {
		return nil, &EnvError{err}
	}
	defer stopBus()

	if o.Fault == nil && !o.NoFault {
		if o.Fault, err = chaos.NewMessageFault(DefaultFault(o.Load.Seed), clock.Real{}); err != nil {
			return nil, err
		}
	}
	env := newEnv(b, rec, o)
	inst, err := sys.Start(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", sys.Name(), err)
	}
	if c, ok := inst.(io.Closer); ok {
		defer func() {
			if cerr := c.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close %s: %w", sys.Name(), cerr))
			}
		}()
	}
	r := &run{sys: sys, inst: inst, env: env, o: o, rec: rec}
	if err := r.drive(ctx, brokerName); err != nil {
		return nil, err
	}
	if err := rec.Flush(); err != nil {
		return nil, fmt.Errorf("write history: %w", err)
	}
	rep, err := r.report(ctx, started, brokerName)
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

// DefaultFault is the message fault a run injects unless told otherwise:
// 2 % of deliveries duplicated and 2 % delayed by up to 20 ms, replayable
// from seed.
func DefaultFault(seed int64) chaos.MessageFaultConfig {
	return chaos.MessageFaultConfig{Seed: seed, Duplicate: 0.02, Delay: 0.02, MaxDelay: 20 * time.Millisecond}
}

// newRecorder makes the run's recorder, streaming to out/history.jsonl
// when out is set.
func newRecorder(out string) (*history.Recorder, func() error, error) {
	if out == "" {
		return history.NewRecorder(clock.Real{}), func() error { return nil }, nil
	}
	hf, err := os.Create(filepath.Join(out, "history.jsonl")) // #nosec G304 -- the user's run directory
	if err != nil {
		return nil, nil, fmt.Errorf("history: %w", err)
	}
	// history.jsonl is an output of the run: a failed close may mean the
	// flushed ops never reached the disk.
	closeFn := func() error {
		if err := hf.Close(); err != nil {
			return fmt.Errorf("close history: %w", err)
		}
		return nil
	}
	return history.NewRecorder(clock.Real{}, history.WithSink(hf)), closeFn, nil
}

func newEnv(b bus.Bus, rec *history.Recorder, o Options) *Env {
	ledger := record.NewLedger()
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fault := o.Fault
	return &Env{
		Bus:     record.NewBus(newResubscribing(b, rec), rec, "loadgen", record.WithLedger(ledger)),
		Visible: loadgen.NewTracker(), Settled: loadgen.NewTracker(),
		Dedup: o.Dedup, Seed: o.Load.Seed, Logger: logger,
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
	load     *loadgen.Result
	quiesced bool
}

// drive runs the system, sends the load, and waits for quiescence.
func (r *run) drive(ctx context.Context, brokerName string) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var runErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runErr = r.inst.Run(runCtx)
	}()
	if r.o.OnStart != nil {
		r.o.OnStart(brokerName)
	}
	driver := loadgen.DriverFunc(func(ctx context.Context, q loadgen.Request) error {
		return r.inst.Send(ctx, Op{Seq: q.Seq, Key: q.Key, KeySeq: q.KeySeq, Step: q.Op, Intended: q.Intended, Payload: q.Payload})
	})
	res, err := loadgen.Run(runCtx, r.o.Load, driver, r.o.LoadOptions...)
	if err != nil {
		cancel()
		<-done
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	r.load = res
	consumers := r.inst.Consumers()
	r.quiesced = waitQuiet(ctx, r.o.Quiesce, done, func() bool {
		return r.env.Settled.Pending() == 0 && r.env.ledger.Outstanding(consumers) == 0
	})
	if ctx.Err() != nil {
		cancel()
		<-done
		return ctx.Err()
	}
	cancel()
	<-done
	if runErr != nil {
		return fmt.Errorf("%s stopped: %w", r.sys.Name(), runErr)
	}
	return nil
}

// waitQuiet polls settled until it holds, the timeout passes, or the
// system fails. It reports whether the system quiesced.
func waitQuiet(ctx context.Context, timeout time.Duration, failed <-chan struct{}, settled func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !settled() {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-failed:
			return false
		case <-tick.C:
		}
	}
	return true
}

// checks judges the history with the built-in checkers and the system's
// own, then its final state.
func (r *run) checks(ctx context.Context, ops []history.Op) ([]check.Result, error) {
	checkers := []check.Checker{
		check.NewLoss(check.LossOptions{Groups: r.inst.Consumers()}),
		check.NewPhantom(check.PhantomOptions{}),
		check.NewOrder(check.OrderOptions{}),
		// At-least-once delivery may duplicate by design; what a system
		// promises is no duplicate *effect*.
		check.NewDuplicateDelivery(check.DuplicateDeliveryOptions{Permitted: true}),
		check.NewDuplicateEffect(check.DuplicateEffectOptions{}),
		check.NewDLQAccounting(check.DLQAccountingOptions{}),
	}
	if hc, ok := r.sys.(HistoryCheckers); ok {
		checkers = append(checkers, hc.Checkers()...)
	}
	results := check.Run(ops, checkers...)
	if sc, ok := r.inst.(StateChecker); ok {
		more, err := sc.CheckState(ctx, r.load.Sent, r.quiesced)
		if err != nil {
			return nil, fmt.Errorf("check %s state: %w", r.sys.Name(), err)
		}
		results = append(results, more...)
	}
	return results, nil
}

// report builds the run's report: counts, latencies, verdicts, thresholds.
func (r *run) report(ctx context.Context, started time.Time, brokerName string) (*reports.Run, error) {
	ops := r.rec.Ops()
	results, err := r.checks(ctx, ops)
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
		Config: append([]reports.KV{{Key: "broker", Value: brokerName}}, r.o.Config...),
		Counts: []reports.Count{
			{Name: "commands sent", Value: int64(res.Sent)},
			{Name: "commands acked", Value: int64(res.OK)},
			{Name: "send errors", Value: int64(res.Errors)},
		},
		Invariants: results,
		Thresholds: []reports.Threshold{
			reports.AtMost("send errors", float64(res.Errors), 0, ""),
			reports.AtLeast("achieved rate", res.Rate, r.o.MinRate*r.o.Load.Rate, "msg/s"),
		},
	}
	if d, ok := r.sys.(Describer); ok {
		rep.Config = append(rep.Config, d.Config()...)
	}
	if c, ok := r.inst.(Counter); ok {
		rep.Counts = append(rep.Counts, c.Counts(ctx)...)
	}
	rep.Counts = append(rep.Counts, reports.Count{Name: "history ops", Value: int64(len(ops))})
	rep.Counts = append(rep.Counts, faultCounts(r.o.Fault)...)
	rep.Latencies = r.latencies()
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
