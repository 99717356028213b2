package brokerbench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// startConsumers opens every consumer (each subscribes for as long as ctx
// lives) and starts its loop.
func (r *run) startConsumers(ctx context.Context, wg *sync.WaitGroup) error {
	for i := range r.w.Consumers {
		c, err := r.d.consumer(ctx)
		if err != nil {
			return fmt.Errorf("consumer %d: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { _ = c.close() }() // acks were confirmed or are lost with the run
			r.consume(ctx, c, i)
		}()
	}
	return nil
}

// consume receives until ctx ends, pausing between the warm-up and the
// resumption (ConsumeOnly builds its backlog meanwhile).
func (r *run) consume(ctx context.Context, c consumer, worker int) {
	seen := false
	for {
		if r.paused() {
			select {
			case <-r.resume:
			case <-ctx.Done():
				return
			}
		}
		sent, err := c.next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.fail(fmt.Errorf("consumer %d: %w", worker, err))
			}
			return
		}
		at := time.Now()
		if err := c.ack(ctx); err != nil {
			if ctx.Err() == nil {
				r.fail(fmt.Errorf("consumer %d: ack: %w", worker, err))
			}
			return
		}
		if sent == 0 {
			if !seen {
				seen = true
				r.readied()
			}
			continue
		}
		r.consumedOne(worker, at, sent)
	}
}

func (r *run) paused() bool {
	select {
	case <-r.warmDone:
	default:
		return false
	}
	select {
	case <-r.resume:
		return false
	default:
		return true
	}
}

// readied counts a consumer's first warm-up message.
func (r *run) readied() {
	if r.readyN.Add(1) >= int64(r.readyNeeded) {
		r.readyOnce.Do(func() { close(r.ready) })
	}
}

// consumedOne records a measured message received at at (it counts once
// acknowledged: a delivery whose ack fails comes again).
func (r *run) consumedOne(worker int, at time.Time, sent int64) {
	r.e2e.record(worker, at.Sub(time.Unix(0, sent)), 1)
	ns := at.UnixNano()
	for {
		last := r.lastConsume.Load()
		if ns <= last || r.lastConsume.CompareAndSwap(last, ns) {
			break
		}
	}
	if r.consumed.Add(1) >= r.target.Load() {
		r.drainOnce.Do(func() { close(r.drained) })
	}
}
