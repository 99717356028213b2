package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Request is one unit of load handed to a Driver.
type Request struct {
	// Seq numbers requests globally in schedule order, from 0.
	Seq uint64
	// Key is the request's key, chosen uniformly from Config.Keys keys.
	Key string
	// KeySeq is the per-key sequence number, from 1, contiguous per key in
	// schedule order; checkers use it for per-key order.
	KeySeq int64
	// Intended is when the schedule said this request should be sent; latency
	// is measured from it, not from the actual send.
	Intended time.Time
	// Payload is Config.PayloadSize bytes shared by every request; drivers
	// must treat it as read-only (copy before modifying).
	Payload []byte
	// Op is the request's place in its aggregate's sequence, from 0, under
	// a sequence key distribution (WithKeyDist, KeysSeq); 0 otherwise.
	Op int
	// WarmUp is true for a request due before Config.WarmUp: it is sent but
	// left out of latency statistics, and a caller measuring more (a
	// Tracker) should leave it out too.
	WarmUp bool
}

// Driver sends one request to the system under load. It is called from
// Config.Workers goroutines at once and must be safe for that.
type Driver interface {
	Send(ctx context.Context, r Request) error
}

// DriverFunc adapts a function to a Driver.
type DriverFunc func(ctx context.Context, r Request) error

var _ Driver = DriverFunc(nil)

// Send calls f.
func (f DriverFunc) Send(ctx context.Context, r Request) error { return f(ctx, r) }

// Result is what a run measured.
type Result struct {
	// Sent is how many requests were handed to Driver.Send; OK and Errors
	// split them by outcome. All three include warm-up requests.
	Sent, OK, Errors uint64
	// WarmUp is how many of the Sent requests were due before
	// Config.WarmUp, and so are missing from Latency and ScheduleLag.
	WarmUp uint64
	// Duration is the wall time from the start of the schedule to the last
	// completed request.
	Duration time.Duration
	// Rate is the achieved send rate, Sent / Duration.
	Rate float64
	// Latency is measured from each request's Intended time to the return of
	// Driver.Send, for requests after the warm-up.
	Latency Summary
	// ScheduleLag is how far behind its Intended time each send started,
	// for requests after the warm-up.
	ScheduleLag Summary
	// FirstError is the first error a Send returned, if any.
	FirstError error
	// LatencyHist and ScheduleLagHist are the merged histograms (values in
	// microseconds), for callers that want other quantiles or a baseline
	// comparison.
	LatencyHist, ScheduleLagHist *hdrhistogram.Histogram
}

// Option adjusts a run beyond its Config.
type Option func(*runOpts)

type runOpts struct {
	pacer     Pacer
	keyName   func(n int) string
	keyDist   KeyDist
	progress  Progress
	every     time.Duration
	progressF func(total time.Duration) (Progress, time.Duration)
	spin      time.Duration
}

// WithPacer replaces the default ConstantPacer{Rate: cfg.Rate}, e.g. with a
// ramp. Config.Duration still bounds the schedule.
func WithPacer(p Pacer) Option { return func(o *runOpts) { o.pacer = p } }

// WithKeyName names key number n (from 0); the default is "k-<n>".
func WithKeyName(f func(n int) string) Option { return func(o *runOpts) { o.keyName = f } }

// WithKeyDist picks each request's key from d (NewKeyDist: uniform, Zipf,
// hot keys, per-aggregate sequences) instead of uniformly from the run's
// random source. d must have been built for Config.Keys keys.
func WithKeyDist(d KeyDist) Option { return func(o *runOpts) { o.keyDist = d } }

// WithProgress reports a Snapshot to p every interval (2 s when every <= 0)
// and once more, through Finish, when the run ends.
func WithProgress(p Progress, every time.Duration) Option {
	return func(o *runOpts) { o.progress, o.every, o.progressF = p, every, nil }
}

// WithSpinWait makes the scheduler busy-wait (yielding the processor)
// instead of arming a timer for the last d before each request is due. Go's
// timers wake up to about a millisecond late on Linux, which shows as
// schedule lag at high rates; spinning removes it at the cost of one busy
// core. The default, 0, never spins.
func WithSpinWait(d time.Duration) Option { return func(o *runOpts) { o.spin = d } }

// worker owns its histograms so the hot path never contends with other
// workers; mu is only contended by progress snapshots.
type worker struct {
	sent atomic.Uint64

	mu       sync.Mutex
	ok, errs uint64
	warm     uint64 // sent during the warm-up, not recorded
	lat, lag *hdrhistogram.Histogram
	firstErr error
	firstAt  time.Time
}

// Run sends load through d as cfg and opts describe and blocks until every
// scheduled request has completed or ctx is done. On cancellation it stops
// scheduling, lets in-flight sends return, and returns the partial Result
// with ctx's error. An invalid cfg returns the joined Validate errors.
func Run(ctx context.Context, cfg Config, d Driver, opts ...Option) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d == nil {
		return nil, ErrNilDriver
	}
	o := runOpts{pacer: ConstantPacer{Rate: cfg.Rate}, keyName: func(n int) string { return "k-" + strconv.Itoa(n) }}
	for _, opt := range opts {
		opt(&o)
	}
	if o.progressF != nil {
		o.progress, o.every = o.progressF(cfg.Duration)
	}
	if o.every <= 0 {
		o.every = 2 * time.Second
	}

	keys := make([]string, cfg.Keys)
	for i := range keys {
		keys[i] = o.keyName(i)
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15))
	payload := make([]byte, cfg.PayloadSize)
	for i := range payload {
		payload[i] = byte('a' + rng.IntN(26))
	}

	workers := make([]*worker, cfg.Workers)
	for i := range workers {
		workers[i] = &worker{lat: newHist(), lag: newHist()}
	}
	jobs := make(chan Request, cfg.Workers)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.serve(ctx, d, jobs)
		}()
	}

	start := time.Now()
	snap := func() Snapshot { return snapshot(start, cfg.Duration, workers) }
	stopProgress := startProgress(o.progress, o.every, snap)

	pick := func(uint64) KeyPick { return KeyPick{Key: rng.IntN(len(keys))} }
	if o.keyDist != nil {
		pick = o.keyDist.Key
	}
	schedule(ctx, cfg, o.pacer, o.spin, start, keys, pick, payload, jobs)
	close(jobs)
	wg.Wait()
	end := time.Now()
	stopProgress()

	res := &Result{Duration: end.Sub(start), LatencyHist: newHist(), ScheduleLagHist: newHist()}
	var firstAt time.Time
	for _, w := range workers {
		res.Sent += w.sent.Load()
		w.mu.Lock()
		res.OK += w.ok
		res.Errors += w.errs
		res.WarmUp += w.warm
		res.LatencyHist.Merge(w.lat)
		res.ScheduleLagHist.Merge(w.lag)
		if w.firstErr != nil && (res.FirstError == nil || w.firstAt.Before(firstAt)) {
			res.FirstError, firstAt = w.firstErr, w.firstAt
		}
		w.mu.Unlock()
	}
	res.Latency = Summarize(res.LatencyHist)
	res.ScheduleLag = Summarize(res.ScheduleLagHist)
	if res.Duration > 0 {
		res.Rate = float64(res.Sent) / res.Duration.Seconds()
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("loadgen: run interrupted: %w", err)
	}
	return res, nil
}

// schedule is the open-loop heart: it stamps each request with the time the
// pacer says it is due, whether or not a worker is free, so a stalled system
// accumulates latency instead of silently lowering the offered load.
func schedule(ctx context.Context, cfg Config, p Pacer, spin time.Duration, start time.Time, keys []string,
	pick func(n uint64) KeyPick, payload []byte, jobs chan<- Request) {
	sched, exact := p.(Scheduler)
	keySeq := make([]int64, len(keys))
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for hits := uint64(0); ; hits++ {
		if cfg.Count > 0 && hits >= cfg.Count {
			return
		}
		elapsed := time.Since(start)
		wait, stop := p.Pace(elapsed, hits)
		if stop {
			return
		}
		due := elapsed + wait
		if exact {
			due = sched.Due(hits)
		}
		if due >= cfg.Duration {
			return
		}
		if wait > spin {
			timer.Reset(wait - spin)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if wait > 0 && spin > 0 {
			for at := start.Add(elapsed + wait); time.Now().Before(at); {
				runtime.Gosched()
			}
		}
		kp := pick(hits)
		k := kp.Key
		keySeq[k]++
		r := Request{Seq: hits, Key: keys[k], KeySeq: keySeq[k], Op: kp.Op, Intended: start.Add(due), Payload: payload,
			WarmUp: due < cfg.WarmUp}
		select {
		case <-ctx.Done():
			return
		case jobs <- r:
		}
	}
}

func (w *worker) serve(ctx context.Context, d Driver, jobs <-chan Request) {
	for r := range jobs {
		if ctx.Err() != nil {
			continue // drain without sending: the run was interrupted
		}
		begin := time.Now()
		w.sent.Add(1)
		err := d.Send(ctx, r)
		end := time.Now()
		w.mu.Lock()
		if r.WarmUp {
			w.warm++
		} else {
			record(w.lag, begin.Sub(r.Intended))
			record(w.lat, end.Sub(r.Intended))
		}
		if err != nil {
			w.errs++
			if w.firstErr == nil {
				w.firstErr, w.firstAt = err, end
			}
		} else {
			w.ok++
		}
		w.mu.Unlock()
	}
}

func snapshot(start time.Time, total time.Duration, workers []*worker) Snapshot {
	s := Snapshot{Elapsed: time.Since(start), Total: total}
	lat := newHist()
	for _, w := range workers {
		s.Sent += w.sent.Load()
		w.mu.Lock()
		s.OK += w.ok
		s.Errors += w.errs
		lat.Merge(w.lat)
		w.mu.Unlock()
	}
	if s.Elapsed > 0 {
		s.Rate = float64(s.Sent) / s.Elapsed.Seconds()
	}
	if lat.TotalCount() > 0 {
		s.P99 = time.Duration(lat.ValueAtQuantile(99)) * time.Microsecond
	}
	return s
}

// startProgress reports snapshots every interval until the returned stop
// function is called; stop sends the final snapshot through Finish and
// returns only after the reporting goroutine has exited.
func startProgress(p Progress, every time.Duration, snap func() Snapshot) (stop func()) {
	if p == nil {
		return func() {}
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.Update(snap())
			}
		}
	}()
	return func() {
		close(done)
		<-exited
		p.Finish(snap())
	}
}
