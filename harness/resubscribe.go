package harness

import (
	"context"
	"errors"
	"time"

	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/reference/backoff"
	"github.com/edkit-dev/edkit/reference/bus"
)

// resubscribing makes a system's subscriptions ride through a broker
// restart: when a subscription's channel closes while its context is still
// live (kafkabus ends a subscription whose broker died), it subscribes
// again with jittered backoff — members that lost the same broker must not
// come back in lockstep — and records each attempt, so a restart is a fault
// the run survives and the timeline shows, not the end of consumption.
type resubscribing struct {
	bus.Bus
	rec      *history.Recorder
	min, max time.Duration
}

func newResubscribing(b bus.Bus, rec *history.Recorder) *resubscribing {
	return &resubscribing{Bus: b, rec: rec, min: 50 * time.Millisecond, max: 2 * time.Second}
}

// Subscribe subscribes through the inner bus; only the first attempt's
// error is returned, later ones are retried until ctx ends or the bus
// closes.
func (r *resubscribing) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	ch, err := r.Bus.Subscribe(ctx, topic, group)
	if err != nil {
		return nil, err
	}
	out := make(chan bus.Delivery)
	go func() {
		defer close(out)
		for ch != nil {
			if !forward(ctx, ch, out) {
				return
			}
			ch = r.again(ctx, topic, group)
		}
	}()
	return out, nil
}

// forward passes deliveries on until in closes (true) or ctx ends (false).
func forward(ctx context.Context, in <-chan bus.Delivery, out chan<- bus.Delivery) bool {
	for d := range in {
		select {
		case out <- d:
		case <-ctx.Done():
			return false
		}
	}
	return ctx.Err() == nil
}

// again subscribes anew with backoff; nil when ctx ended or the bus closed.
func (r *resubscribing) again(ctx context.Context, topic, group string) <-chan bus.Delivery {
	retry := backoff.New(r.min, r.max)
	op := history.Op{Process: group, F: history.Resubscribe, Topic: topic, Group: group}
	for retry.Sleep(ctx) {
		ch, err := r.Bus.Subscribe(ctx, topic, group)
		if err == nil {
			ok := op
			ok.Type = history.OK
			r.rec.Record(ok)
			return ch
		}
		failed := op
		failed.Type, failed.Error = history.Fail, err.Error()
		r.rec.Record(failed)
		if errors.Is(err, bus.ErrClosed) || ctx.Err() != nil {
			return nil
		}
	}
	return nil
}
