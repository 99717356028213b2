package brokerbench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// run is one client's run of a workload: consumers, producers, the
// warm-up, the measured phase and the drain. Its state is counters and
// fixed-size histograms, so its memory does not grow with Duration.
type run struct {
	client Client
	w      Workload
	d      driver
	o      *options
	keys   []string

	pub, e2e           latencies
	produced, consumed atomic.Uint64
	target             atomic.Uint64 // consumed count that ends the drain
	lastConsume        atomic.Int64  // unix ns of the latest consumption

	readyNeeded int
	readyN      atomic.Int64
	ready       chan struct{} // closed once readyNeeded consumers got a warm-up message
	warmDone    chan struct{} // closed when the warm-up ends: consumers pause
	resume      chan struct{} // closed when consumers may go on
	drained     chan struct{} // closed once consumed >= target
	failed      chan struct{} // closed on the first consumer failure
	readyOnce   sync.Once
	drainOnce   sync.Once
	failOnce    sync.Once
	consumerErr error // the first consumer failure, set before failed closes
}

func newRun(client Client, d driver, w Workload, o *options) *run {
	r := &run{
		client: client, w: w, d: d, o: o,
		ready: make(chan struct{}), warmDone: make(chan struct{}), resume: make(chan struct{}),
		drained: make(chan struct{}), failed: make(chan struct{}),
	}
	// Keys spread the messages over every partition (Kafka hashes keys)
	// and keep per-key ordering clients (natsbus, redisbus) busy on many
	// keys at once.
	r.keys = make([]string, max(64, 4*w.Partitions))
	for i := range r.keys {
		r.keys[i] = "k" + strconv.Itoa(i)
	}
	r.readyNeeded = w.Consumers
	if o.target.Broker.partitioned() {
		r.readyNeeded = min(w.Consumers, w.Partitions) // the rest of the group idles
	}
	r.target.Store(^uint64(0))
	return r
}

// runClient sets up the client's topic, runs the workload and tears the
// topic down again.
func runClient(ctx context.Context, client Client, d driver, w Workload, o *options) (Stats, error) {
	if err := d.setup(ctx); err != nil {
		return Stats{}, fmt.Errorf("brokerbench: %s (%s): setup: %w", client, d.library(), err)
	}
	defer func() {
		// Best effort: the names are fresh, so a leftover never skews
		// another run; deleting it only frees the broker's memory.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		_ = d.teardown(tctx)
		cancel()
	}()
	r := newRun(client, d, w, o)
	st, err := r.execute(ctx)
	if err != nil {
		return st, fmt.Errorf("brokerbench: %s (%s): %w", client, d.library(), err)
	}
	return st, r.check(st)
}

// execute runs the phases: consumers join, producers connect, the
// warm-up, the measured phase, the drain.
func (r *run) execute(ctx context.Context) (Stats, error) {
	cctx, stopConsumers := context.WithCancel(ctx)
	var consumers sync.WaitGroup
	defer func() { stopConsumers(); consumers.Wait() }()
	if r.w.Mode.consumes() {
		if err := r.startConsumers(cctx, &consumers); err != nil {
			return Stats{}, err
		}
	}
	prods, err := r.openProducers(ctx)
	defer closeProducers(prods)
	if err != nil {
		return Stats{}, err
	}
	if err := r.warmUp(ctx, prods); err != nil {
		return Stats{}, err
	}
	close(r.warmDone)
	st := Stats{Client: r.client, Library: r.d.library()}
	start, err := r.measure(ctx, prods, &st)
	if err != nil {
		return st, err
	}
	if r.w.Mode.consumes() {
		if err := r.drain(ctx); err != nil {
			return st, err
		}
		stopConsumers()
		consumers.Wait()
		st.ConsumeTime = max(time.Duration(r.lastConsume.Load()-start.UnixNano()), 0)
	}
	st.Produced, st.Consumed = r.produced.Load(), r.consumed.Load()
	st.Publish, st.EndToEnd = r.pub.summary(), r.e2e.summary()
	st.setRates(r.w.MessageSize)
	return st, nil
}

// measure runs the measured produce phase and returns when consumption
// time starts: with the producers, or in ConsumeOnly after the backlog,
// when the paused consumers resume.
func (r *run) measure(ctx context.Context, prods []producer, st *Stats) (time.Time, error) {
	if r.w.Mode == ConsumeOnly {
		began := time.Now()
		err := r.produce(ctx, prods, time.Time{})
		st.ProduceTime = time.Since(began)
		start := time.Now()
		close(r.resume)
		return start, err
	}
	close(r.resume)
	start := time.Now()
	err := r.produce(ctx, prods, start.Add(r.w.Duration))
	st.ProduceTime = time.Since(start)
	return start, err
}

// check turns a drain that fell short, or overshot, into an error.
func (r *run) check(st Stats) error {
	if !r.w.Mode.consumes() || st.Consumed == st.Produced {
		return nil
	}
	err := error(&IncompleteError{Client: r.client, Produced: st.Produced, Consumed: st.Consumed})
	select {
	case <-r.failed:
		err = errors.Join(err, r.consumerErr)
	default:
	}
	return err
}

// drain waits until the consumers have everything the producers
// published, a consumer fails, or they go DrainTimeout without receiving
// anything: a stall, not a slow drain, ends it early.
func (r *run) drain(ctx context.Context) error {
	r.target.Store(r.produced.Load())
	if r.consumed.Load() >= r.target.Load() {
		r.drainOnce.Do(func() { close(r.drained) })
	}
	tick := time.NewTicker(max(r.o.drainTimeout/20, time.Millisecond))
	defer tick.Stop()
	seen, progressed := r.consumed.Load(), time.Now()
	for {
		select {
		case <-r.drained:
			return nil
		case <-r.failed:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			if n := r.consumed.Load(); n != seen {
				seen, progressed = n, now
			} else if now.Sub(progressed) >= r.o.drainTimeout {
				return nil
			}
		}
	}
}

func (r *run) fail(err error) {
	r.failOnce.Do(func() {
		r.consumerErr = err
		close(r.failed)
	})
}

func closeProducers(prods []producer) {
	for _, p := range prods {
		_ = p.close() // every publish returned: nothing is left to flush
	}
}

func (r *run) openProducers(ctx context.Context) ([]producer, error) {
	prods := make([]producer, 0, r.w.Producers)
	for i := range r.w.Producers {
		p, err := r.d.producer(ctx)
		if err != nil {
			return prods, fmt.Errorf("producer %d: %w", i, err)
		}
		prods = append(prods, p)
	}
	return prods, nil
}
