package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/history"
)

// Action is one entry of a fault journal: a fault injected or healed, when
// (since the schedule started), and what went wrong, if anything.
type Action struct {
	Fault string        `json:"fault"`
	Kind  string        `json:"kind"` // "inject" or "heal"
	At    time.Duration `json:"at"`
	Error string        `json:"error,omitempty"`
}

// healTimeout bounds a heal run after the work ended or was cancelled: it
// runs on a context of its own, since the caller's may be the one that was
// cancelled (Ctrl-C), and a heal that never returns must not hang the run.
const healTimeout = 30 * time.Second

// During runs work while the schedule's faults are injected at their times
// on clk, and returns the journal of what was injected and healed. Every
// injected fault is healed before During returns — when work ends, fails
// or panics, and when ctx is cancelled — which is what a chaos experiment
// owes the system it breaks. Each injection and heal is recorded in rec
// (nil: not recorded) as a history.Fault op, so the checkers and the
// report's timeline see it. The error is work's, joined with any failed
// injection or heal; a panic in work is healed around and returned as an
// error.
func During(ctx context.Context, clk clock.Clock, s Schedule, faults []Fault, rec *history.Recorder, work func(context.Context) error) ([]Action, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	for _, in := range s.Intervals {
		if in.Fault < 0 || in.Fault >= len(faults) {
			return nil, fmt.Errorf("%w: the schedule names fault %d of %d", ErrBadNemesis, in.Fault, len(faults))
		}
	}
	workCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("chaos: the work panicked: %v", p)
			}
		}()
		done <- work(workCtx)
	}()
	n := &nemesisRun{clk: clk, start: clk.Now(), faults: faults, rec: rec}
	workErr, faultErr := n.run(ctx, s, done)
	stop()
	return n.journal, errors.Join(workErr, faultErr)
}

type nemesisRun struct {
	clk     clock.Clock
	start   time.Time
	faults  []Fault
	rec     *history.Recorder
	journal []Action
}

// run walks the schedule until the work ends, then heals what is injected
// and waits for the work.
func (n *nemesisRun) run(ctx context.Context, s Schedule, done <-chan error) (workErr, faultErr error) {
	var errs []error
	for _, in := range s.Intervals {
		if finished, err := n.waitUntil(ctx, in.Start, done); finished {
			return err, errors.Join(errs...)
		}
		f := n.faults[in.Fault]
		heal, err := f.Inject(ctx)
		n.note(f, "inject", err)
		if err != nil {
			errs = append(errs, fmt.Errorf("inject %s: %w", f.Name(), err))
			if heal == nil {
				continue
			}
		}
		finished, werr := n.waitUntil(ctx, in.End, done)
		errs = append(errs, n.heal(ctx, f, heal))
		if finished {
			return werr, errors.Join(errs...)
		}
	}
	select {
	case err := <-done:
		return err, errors.Join(errs...)
	case <-ctx.Done():
		return errors.Join(ctx.Err(), <-done), errors.Join(errs...)
	}
}

// waitUntil sleeps until at (since the start) unless the work ends or
// ctx is done first; finished says the schedule must stop, err is the
// work's.
func (n *nemesisRun) waitUntil(ctx context.Context, at time.Duration, done <-chan error) (finished bool, err error) {
	select {
	case <-n.clk.After(at - n.clk.Now().Sub(n.start)):
		return false, nil
	case err := <-done:
		return true, err
	case <-ctx.Done():
		return true, errors.Join(ctx.Err(), <-done)
	}
}

// heal heals f on a context of its own: ctx may be cancelled already.
func (n *nemesisRun) heal(ctx context.Context, f Fault, heal Heal) error {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healTimeout)
	defer cancel()
	err := heal(hctx)
	n.note(f, "heal", err)
	if err != nil {
		return fmt.Errorf("heal %s: %w", f.Name(), err)
	}
	return nil
}

func (n *nemesisRun) note(f Fault, kind string, err error) {
	a := Action{Fault: f.Name(), Kind: kind, At: n.clk.Now().Sub(n.start)}
	op := history.Op{Process: "nemesis", F: history.Fault, Value: f.Name(), Type: history.Invoke}
	if kind == "heal" {
		op.Type = history.OK
	}
	if err != nil {
		a.Error, op.Type, op.Error = err.Error(), history.Fail, err.Error()
	}
	n.journal = append(n.journal, a)
	if n.rec != nil {
		n.rec.Record(op)
	}
}
