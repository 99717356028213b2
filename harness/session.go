package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/history"
)

// Session is a system started by the run pipeline — its broker, recording,
// message faults and consumers — and driven by its caller instead of a
// load: a scenario sends its given and when steps, waits for quiescence,
// looks at the system's state, then has the history judged by the same
// checkers a run uses. Run is a Session driven by loadgen.
//
// The order is Start, then any of Env, Instance and Quiesce, then Stop,
// then Judge, then Close (which also stops). Close releases everything the
// session started, whatever happened.
type Session struct {
	r      *run
	broker string // the environment's name ("embedded-kafka", "membus")
	// component is the broker's environment handle (nil for membus): what
	// a nemesis breaks.
	component env.Component

	runCtx    context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	runErr    error
	consumers map[string][]string

	stopOnce sync.Once
	stopped  bool
	stopErr  error
	closers  []func() error // run in reverse order by Close
	closed   bool
}

// Start brings up o.Broker, starts sys on it with recording and o's
// message fault, and runs the system's consumers (and edkit's dead-letter
// observers) until Stop. Options about the load are ignored.
func Start(ctx context.Context, sys System, o Options) (_ *Session, err error) {
	s := &Session{}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	rec, dir, err := s.history(o)
	if err != nil {
		return nil, err
	}

	var topics []string
	if t, ok := sys.(Topics); ok {
		topics = t.Topics()
	}
	st, err := o.Broker.start(ctx, topics)
	if err != nil {
		return nil, &EnvError{err}
	}
	b := st.bus
	s.broker, s.component = st.name, st.component
	s.closers = append(s.closers, func() error { st.stop(); return nil })

	if o.Fault == nil && !o.NoFault {
		if o.Fault, err = chaos.NewMessageFault(DefaultFault(o.Load.Seed), clock.Real{}); err != nil {
			return nil, err
		}
	}
	env := newEnv(b, rec, o)
	env.Broker = st.component
	_, env.observed = sys.(DeadLetterTopics)
	inst, err := sys.Start(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", sys.Name(), err)
	}
	if c, ok := inst.(io.Closer); ok {
		s.closers = append(s.closers, func() error {
			if err := c.Close(); err != nil {
				return fmt.Errorf("close %s: %w", sys.Name(), err)
			}
			return nil
		})
	}
	s.r = &run{sys: sys, inst: inst, env: env, o: o, rec: rec, dir: dir, bus: b}
	// The ledger forgets each message once every group owed it settled it:
	// it must know the groups before the first publish, or it keeps every one.
	s.consumers = s.r.quiesceGroups()
	env.ledger.SetGroups(s.consumers)
	s.runCtx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.runErr = s.r.runAll(s.runCtx)
	}()
	return s, nil
}

// history starts the session's history: in a run directory (o.Out, or a
// temporary one), or in memory when o asks.
func (s *Session) history(o Options) (*history.Recorder, string, error) {
	if o.HistoryInMemory {
		if o.Out != "" {
			return nil, "", errors.New("harness: a history in memory has no run directory: leave Out empty")
		}
		return history.NewRecorder(clock.Real{}), "", nil
	}
	dir, removeDir, err := runDir(o.Out, o.Replace)
	if err != nil {
		return nil, "", err
	}
	s.closers = append(s.closers, func() error { removeDir(); return nil })
	hf, err := history.CreateFile(filepath.Join(dir, history.FileName))
	if err != nil {
		return nil, "", fmt.Errorf("history: %w", err)
	}
	// The history file is an output of the run: a failed close may mean
	// ops never reached the disk.
	s.closers = append(s.closers, hf.Close)
	return history.NewRecorder(clock.Real{}, history.WithFile(hf)), dir, nil
}

// Env is what the system was started with: its bus (recorded), trackers
// and clock.
func (s *Session) Env() *Env { return s.r.env }

// Instance is the started system.
func (s *Session) Instance() Instance { return s.r.inst }

// BrokerComponent is the broker's environment handle, with its fault
// capabilities (chaos.Kill, chaos.Pause, …); nil for membus.
func (s *Session) BrokerComponent() env.Component { return s.component }

// Broker names the environment ("embedded-kafka", "membus").
func (s *Session) Broker() string { return s.broker }

// Quiesce waits, at most o.Quiesce (the Options'), until the system is
// settled: every message published to a consumed topic settled by every
// group that owes it, every tracked operation final, and the system idle
// by its own account (Idler). It reports whether it settled and, if not,
// how much was still unsettled while the system was making progress (0 when
// it had stalled: what it holds then is lost, not in flight).
func (s *Session) Quiesce(ctx context.Context) (settled bool, unsettled int) {
	idle := func() bool { return true }
	if i, ok := s.r.inst.(Idler); ok {
		idle = i.Idle
	}
	quiesced, busy := waitQuiet(ctx, s.r.o.Quiesce, s.done, func() bool {
		zero, _ := s.outstanding()
		return zero && idle()
	}, s.r.rec.Len)
	if !quiesced && busy {
		_, unsettled = s.outstanding()
	}
	return quiesced, unsettled
}

// outstanding is what the system has not settled: operations not yet
// final and messages some group owes. zero is read before n, each in one
// go: Quiesce needs the two counters at nothing together, the series their
// sum.
func (s *Session) outstanding() (zero bool, n int) {
	pending, owed := s.r.env.Settled.Pending(), s.r.env.ledger.Outstanding(s.consumers)
	return pending == 0 && owed == 0, pending + owed
}

// Failed reports the system's error when it stopped on its own before
// Stop (nil while it runs).
func (s *Session) Failed() error {
	select {
	case <-s.done:
		if s.runCtx.Err() == nil {
			if s.runErr == nil {
				return fmt.Errorf("%s stopped on its own", s.r.sys.Name())
			}
			return fmt.Errorf("%s stopped: %w", s.r.sys.Name(), s.runErr)
		}
	default:
	}
	return nil
}

// Stop stops the system's consumers and completes the history; the
// system's state can still be read (its Close comes with the session's).
// The error is the system's own failure, if it had one, or the history's.
func (s *Session) Stop() error {
	s.stopOnce.Do(func() {
		if s.cancel == nil {
			return
		}
		s.stopped = true
		failed := s.Failed()
		s.cancel()
		<-s.done
		s.stopErr = errors.Join(failed, s.r.rec.Close())
	})
	return s.stopErr
}

// Judge judges the history, after Stop, with the built-in checkers of the
// run's guarantee profile, the system's own (HistoryCheckers) and extra,
// then the system's final state (StateChecker, told sent operations).
func (s *Session) Judge(ctx context.Context, sent uint64, settled bool, extra ...check.Checker) ([]check.Result, error) {
	s.r.quiesced = settled
	c := s.r.judgement()
	var results []check.Result
	var err error
	if s.r.o.HistoryInMemory {
		var checkers []check.Checker
		if checkers, err = judges(c, s.r.sys, extra); err == nil {
			results = check.Run(s.r.rec.Ops(), checkers...)
		}
	} else {
		results, err = judgeHistory(filepath.Join(s.r.dir, history.FileName), s.r.dir, c, s.r.sys, extra...)
	}
	if err != nil {
		return nil, err
	}
	if sc, ok := s.r.inst.(StateChecker); ok {
		more, err := sc.CheckState(ctx, sent, settled)
		if err != nil {
			return nil, fmt.Errorf("check %s state: %w", s.r.sys.Name(), err)
		}
		results = append(results, more...)
	}
	return results, nil
}

// Close stops the session if it was not stopped and releases everything
// it started: the system, the broker, the history file, and the run
// directory when it was a temporary one. It is idempotent.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if !s.stopped {
		err = s.Stop() // a caller that stopped has had Stop's error already
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		err = errors.Join(err, s.closers[i]())
	}
	return err
}
