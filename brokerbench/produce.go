package brokerbench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// probeEvery paces warm-up messages: enough to reach every consumer
// quickly, few enough that the measured phase does not start behind a
// pile of them.
const probeEvery = 10 * time.Millisecond

// warmUp connects every producer to the topic and, when there are
// consumers, publishes warm-up messages until enough consumers received
// one: the group has settled (a Kafka group rebalances as members join),
// so the measured messages are neither redelivered nor kept waiting.
func (r *run) warmUp(ctx context.Context, prods []producer) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(prods))
	var wg sync.WaitGroup
	for i, p := range prods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.probe(wctx, p, i)
		}()
	}
	var err error
	if r.w.Mode.consumes() {
		if err = r.awaitReady(ctx); err != nil {
			cancel() // else they stop by themselves, their last publish done
		}
	}
	wg.Wait() // without consumers, each producer sends one message and ends
	if err != nil {
		return err
	}
	for i, e := range errs {
		if e != nil && ctx.Err() == nil {
			return fmt.Errorf("warm-up: producer %d: %w", i, e)
		}
	}
	return ctx.Err()
}

func (r *run) awaitReady(ctx context.Context) error {
	t := time.NewTimer(r.o.warmupTimeout)
	defer t.Stop()
	select {
	case <-r.ready:
		return nil
	case <-r.failed:
		return r.consumerErr
	case <-t.C:
		return fmt.Errorf("%w: %d of %d consumers received a warm-up message within %v",
			ErrNotReady, r.readyN.Load(), r.readyNeeded, r.o.warmupTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// probe publishes warm-up messages (send time 0) from one producer, one
// every probeEvery, until the consumers are ready; without consumers, one.
func (r *run) probe(ctx context.Context, p producer, worker int) error {
	batch := []message{{payload: make([]byte, r.w.MessageSize)}}
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for n := 0; ; n++ {
		batch[0].id = "w" + strconv.Itoa(worker) + "-" + strconv.Itoa(n)
		batch[0].key = r.keys[(worker+n)%len(r.keys)]
		if err := p.publish(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil // the warm-up failed elsewhere and was called off
			}
			return err
		}
		if !r.w.Mode.consumes() {
			return nil
		}
		select {
		case <-tick.C:
		case <-r.ready:
			return nil
		case <-ctx.Done():
			return nil // the warm-up ended without us
		}
	}
}

// produce runs every producer until deadline or, with a zero deadline,
// until they published the backlog between them.
func (r *run) produce(ctx context.Context, prods []producer, deadline time.Time) error {
	errs := make([]error, len(prods))
	var wg sync.WaitGroup
	for i, p := range prods {
		quota := 0
		if deadline.IsZero() {
			quota = r.w.Backlog / len(prods)
			if i < r.w.Backlog%len(prods) {
				quota++
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.produceLoop(ctx, p, i, deadline, quota); err != nil {
				errs[i] = fmt.Errorf("producer %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// interval is the time between one producer's batches under a Rate; 0
// without one.
func (r *run) interval() time.Duration {
	if r.w.Rate == 0 {
		return 0
	}
	perProducer := r.w.Rate / float64(r.w.Producers)
	return time.Duration(float64(r.w.Batch) / perProducer * float64(time.Second))
}

// produceLoop publishes one producer's batches until deadline or, with a
// zero deadline, until it published quota messages. Under a Rate each
// batch has its scheduled time, and latencies count from it.
func (r *run) produceLoop(ctx context.Context, p producer, worker int, deadline time.Time, quota int) error {
	batch := make([]message, r.w.Batch)
	for i := range batch {
		batch[i].payload = make([]byte, r.w.MessageSize)
	}
	every := r.interval()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	start := time.Now()
	prefix := strconv.Itoa(worker) + "-"
	for n, sent := 0, 0; ; n++ {
		k := r.w.Batch
		if deadline.IsZero() {
			k = min(k, quota-sent)
			if k <= 0 {
				return nil
			}
		}
		intended := time.Now()
		if every > 0 {
			intended = start.Add(time.Duration(n) * every)
		}
		// A producer behind its schedule stops at the deadline too,
		// rather than sending its arrears after it.
		if !deadline.IsZero() && (!intended.Before(deadline) || !time.Now().Before(deadline)) {
			return nil
		}
		if err := sleepUntil(ctx, timer, intended); err != nil {
			return err
		}
		r.fill(batch[:k], prefix, worker, sent, intended.UnixNano())
		if err := p.publish(ctx, batch[:k]); err != nil {
			return err
		}
		r.pub.record(worker, time.Since(intended), k)
		r.produced.Add(uint64(k))
		sent += k
	}
}

// fill makes a batch's messages: IDs unique in the run, keys round robin,
// the send time at each payload's start.
func (r *run) fill(batch []message, prefix string, worker, first int, sentAt int64) {
	for j := range batch {
		seq := first + j
		batch[j].id = prefix + strconv.Itoa(seq)
		batch[j].key = r.keys[(worker+seq)%len(r.keys)]
		putStamp(batch[j].payload, sentAt)
	}
}

// sleepUntil waits for at on t, or returns ctx's error.
func sleepUntil(ctx context.Context, t *time.Timer, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t.Reset(d)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}
