package service

import (
	"context"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/saga"
	"github.com/edkit-dev/edkit/reference/shop"
)

// The saga's deadlines: the shop arms each saga's pending deadlines in
// s.timers after every transition it stores, and runDeadlines fires them
// on the configured clock (a scenario's virtual clock fires them when it
// is advanced, not before). After a restart, recoverDeadlines rebuilds
// the timers from the stored transitions, so a deadline set before a
// crash still fires.

// deadlinePoll bounds how long the loop sleeps without looking again: a
// timer armed while it sleeps wakes it through s.armed instead, so this
// only matters for a clock that jumps.
const deadlinePoll = time.Minute

// arm records st's pending deadlines for orderID and wakes the loop.
func (s *Shop) arm(orderID string, st saga.State) {
	s.timers.Set(orderID, st)
	select {
	case s.armed <- struct{}{}:
	default:
	}
}

// NextDeadline is when the earliest pending saga deadline falls due.
func (s *Shop) NextDeadline() (time.Time, bool) { return s.timers.Next() }

// runDeadlines fires due deadlines until ctx is done. It keeps one sleep
// on the clock in flight, and starts another only for an earlier wake-up:
// a sleep abandoned on every armed deadline would leave a waiter on a
// virtual clock each time.
func (s *Shop) runDeadlines(ctx context.Context) error {
	if err := s.recoverDeadlines(ctx); err != nil {
		return err
	}
	woke := make(chan time.Time)
	var sleeping time.Time // the wake-up of the sleep in flight; zero: none
	for {
		now := s.clock().Now()
		for _, tm := range s.timers.Due(now) {
			if err := s.fire(ctx, tm); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("saga deadline", "order", tm.Saga, "deadline", tm.Deadline.Name, "err", err)
			}
		}
		wake := now.Add(deadlinePoll)
		if next, ok := s.timers.Next(); ok && next.Before(wake) {
			wake = maxTime(next, now.Add(time.Millisecond))
		}
		if sleeping.IsZero() || wake.Before(sleeping) {
			sleeping = wake
			go s.sleepUntil(ctx, wake, woke)
		}
		select {
		case at := <-woke:
			if at.Equal(sleeping) {
				sleeping = time.Time{}
			}
		case <-s.armed:
		case <-ctx.Done():
			return nil
		}
	}
}

// sleepUntil sleeps on the clock until at, then says so on woke. The
// clock is read here, not when the sleep was decided: a virtual clock
// advanced in between must not push the wake-up past at.
func (s *Shop) sleepUntil(ctx context.Context, at time.Time, woke chan<- time.Time) {
	if s.clock().Sleep(ctx, at.Sub(s.clock().Now())) != nil {
		return
	}
	select {
	case woke <- at:
	case <-ctx.Done():
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// fire answers deadline tm: the saga's OnDeadline transition, stored and
// its commands sent, unless the deadline is no longer pending (answered,
// cancelled, or the saga ended).
func (s *Shop) fire(ctx context.Context, tm saga.Timer) error {
	return s.transition(ctx, tm.Saga, tm.Deadline.Cause(), event.Envelope{ID: tm.Deadline.Cause()},
		func(st saga.State) (saga.Transition, bool, error) {
			if at, ok := st.Deadlines[tm.Deadline.Name]; !ok || !at.Equal(tm.Deadline.At) {
				s.arm(tm.Saga, st) // stale: the stored state says otherwise
				return saga.Transition{}, false, nil
			}
			t, err := shop.OnDeadline(st, tm.Deadline)
			return t, err == nil, err
		})
}

// recoverDeadlines arms the deadlines pending in the store: it folds the
// saga transitions of the global log, dropping each saga as it ends, so
// memory follows the sagas in flight, not every saga ever run.
func (s *Shop) recoverDeadlines(ctx context.Context) error {
	live := map[string]saga.State{}
	var from uint64 = 1
	for {
		page, err := s.cfg.Store.ReadAll(ctx, from, recoverPage)
		if err != nil {
			return fmt.Errorf("recover saga deadlines: %w", err)
		}
		for _, e := range page {
			from = e.Position + 1
			if e.Type != sagaTransitionType {
				continue
			}
			orderID := e.Metadata[event.MetaCorrelationID]
			st, ok := live[orderID]
			if !ok {
				st = saga.NewState()
			}
			if st, err = evolveSaga(st, e); err != nil {
				return fmt.Errorf("recover saga deadlines: %s: %w", e.Stream, err)
			}
			if st.Ended() {
				delete(live, orderID)
			} else {
				live[orderID] = st
			}
		}
		if len(page) < recoverPage {
			break
		}
	}
	for orderID, st := range live {
		if len(st.Deadlines) > 0 {
			s.arm(orderID, st)
		}
	}
	return nil
}

const recoverPage = 512
