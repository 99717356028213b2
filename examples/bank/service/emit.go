package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Publishing: each attempt is bounded by publishTimeout (a broker that
// stops answering must not hold a command forever); a failed one is tried
// again after a backoff, publishAttempts in all (about 10 s), before the
// service gives up.
const (
	publishAttempts = 8
	publishTimeout  = 10 * time.Second
	flushTimeout    = 5 * time.Second
)

var publishBackoff = bus.ExponentialBackoff(50*time.Millisecond, 2*time.Second)

// emitter publishes answers, misbehaving as configured. Its mutex
// serialises every output — counting, holding and publishing — between
// the handler and the hold timers, so one account's answers go out in the
// order decided here.
type emitter struct {
	pub     bus.Publisher
	cfg     Config
	newID   func() string
	ctx     context.Context // Run's: the hold timers publish on it
	timers  sync.WaitGroup  // hold timers armed and not yet stopped or run
	fail    func(error)     // stops Run with a publish that kept failing
	mu      sync.Mutex
	n       int              // answers produced so far
	held    map[string]*held // by key: an answer held back (ReorderEvery)
	stopped bool             // Run has ended: hold nothing more
}

// held is an answer held back, with the timer that publishes it anyway.
type held struct {
	msgs  []*bus.Message
	timer *time.Timer // nil once it is not armed
}

func every(n, i int) bool { return n > 0 && i%n == 0 }

// emit produces answer m for key: drops, duplicates or holds it as
// configured, and publishes what is due, releasing an answer of key held
// before it.
func (e *emitter) emit(ctx context.Context, key string, m *bus.Message) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	var msgs []*bus.Message
	switch {
	case every(e.cfg.DropEvery, e.n):
	case every(e.cfg.DuplicateEvery, e.n):
		dup := m.Clone()
		dup.ID = e.newID()
		msgs = []*bus.Message{m, dup}
	default:
		msgs = []*bus.Message{m}
	}
	if h := e.held[key]; h != nil {
		e.release(key, h)
		if err := e.publish(ctx, msgs...); err != nil {
			e.held[key] = &held{msgs: h.msgs} // flushed when Run ends
			return err
		}
		if err := e.publish(ctx, h.msgs...); err != nil {
			e.held[key] = &held{msgs: h.msgs}
			return err
		}
		return nil
	}
	if len(msgs) > 0 && every(e.cfg.ReorderEvery, e.n) && !e.stopped {
		e.hold(key, msgs)
		return nil
	}
	return e.publish(ctx, msgs...)
}

// hold holds msgs back for key, with a timer that publishes them after
// HoldFor unless the next answer of key releases them first. e.mu is held.
func (e *emitter) hold(key string, msgs []*bus.Message) {
	h := &held{msgs: msgs}
	e.timers.Add(1)
	h.timer = time.AfterFunc(e.cfg.HoldFor, func() {
		defer e.timers.Done()
		e.expire(key, h)
	})
	e.held[key] = h
}

// release takes key's held answer out, disarming its timer. e.mu is held.
func (e *emitter) release(key string, h *held) {
	delete(e.held, key)
	if h.timer != nil && h.timer.Stop() {
		e.timers.Done() // it will never run
	}
	h.timer = nil
}

// expire publishes h when its timer fires, unless the next answer of its
// key released it meanwhile.
func (e *emitter) expire(key string, h *held) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held[key] != h {
		return
	}
	delete(e.held, key)
	if err := e.publish(e.ctx, h.msgs...); err != nil {
		e.held[key] = &held{msgs: h.msgs} // flushed when Run ends
		if e.ctx.Err() == nil {
			e.fail(err)
		}
	}
}

// flush ends emitting when Run ends: it publishes every answer still
// held (late, not lost: their commands were acked) on a fresh context
// bounded by flushTimeout, and waits for the hold timers, so no goroutine
// outlives Run.
func (e *emitter) flush() error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), flushTimeout)
	defer cancel()
	e.mu.Lock()
	e.stopped = true
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(e.held)) {
		h := e.held[key]
		e.release(key, h)
		if err := e.publishOnce(ctx, h.msgs...); err != nil {
			errs = append(errs, fmt.Errorf("flush held answer of %s: %w", key, err))
		}
	}
	e.mu.Unlock()
	e.timers.Wait() // a timer that fired meanwhile finds nothing held
	return errors.Join(errs...)
}

// publish publishes msgs one at a time, in order, each retried with
// backoff while ctx lasts, publishAttempts in all.
func (e *emitter) publish(ctx context.Context, msgs ...*bus.Message) error {
	for _, m := range msgs {
		var err error
		for attempt := 1; ; attempt++ {
			if err = e.publishOnce(ctx, m); err == nil {
				break
			}
			if attempt >= publishAttempts || ctx.Err() != nil {
				return err
			}
			if bus.WallClock.Sleep(ctx, publishBackoff(attempt)) != nil {
				return err
			}
		}
	}
	return nil
}

// publishOnce publishes msgs in order, each attempt bounded by
// publishTimeout.
func (e *emitter) publishOnce(ctx context.Context, msgs ...*bus.Message) error {
	for _, m := range msgs {
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		err := e.pub.Publish(pctx, m)
		cancel()
		if err != nil {
			return fmt.Errorf("publish %s to %s: %w", m.ID, m.Topic, err)
		}
	}
	return nil
}
