package loadgen

import (
	"hash/maphash"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

const trackerShards = 16

// Tracker measures a second latency for the same requests, from their
// intended send time to when the caller observes the effect (a command's
// result in the read model, a message at the consumer). Start and Done may be
// called from any goroutine; state is sharded by id to keep contention low.
type Tracker struct {
	seed   maphash.Seed
	shards [trackerShards]trackerShard
}

type trackerShard struct {
	mu      sync.Mutex
	pending map[string]time.Time
	hist    *hdrhistogram.Histogram
	// win holds the latencies since the last TakeWindow, for time series.
	win       *hdrhistogram.Histogram
	unmatched uint64
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	t := &Tracker{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].pending = make(map[string]time.Time)
	}
	return t
}

func (t *Tracker) shard(id string) *trackerShard {
	return &t.shards[maphash.String(t.seed, id)%trackerShards]
}

// Start begins measuring id from intended (use Request.Intended, so that
// end-to-end latency is as free of coordinated omission as send latency).
// Starting an id again restarts it.
func (t *Tracker) Start(id string, intended time.Time) {
	s := t.shard(id)
	s.mu.Lock()
	s.pending[id] = intended
	s.mu.Unlock()
}

// Done records the latency of id, observed at at. An id that was never
// started, or is already done, is counted in Unmatched (a duplicate or a
// phantom to the observer) and not recorded.
func (t *Tracker) Done(id string, at time.Time) {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	start, ok := s.pending[id]
	if !ok {
		s.unmatched++
		return
	}
	delete(s.pending, id)
	if s.hist == nil {
		// Made on first use: a histogram is tens of kilobytes per shard,
		// and a tracker a system never feeds (or a short scenario's)
		// should not cost them.
		s.hist, s.win = newHist(), newHist()
	}
	record(s.hist, at.Sub(start))
	record(s.win, at.Sub(start))
}

// TakeWindow summarises the latencies recorded since the last call and
// starts a new window: one point of a run's time series. The windows
// reuse their histograms, so sampling costs no memory as the run goes.
func (t *Tracker) TakeWindow() Summary {
	h := newHist()
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		if s.win != nil {
			h.Merge(s.win)
			s.win.Reset()
		}
		s.mu.Unlock()
	}
	return Summarize(h)
}

// Forget stops measuring id without recording a latency: an observer
// that judged it lost at a deadline. A later Done for it is Unmatched.
func (t *Tracker) Forget(id string) {
	s := t.shard(id)
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}

// Pending is how many started ids are not done yet: after quiescence, the
// ones that never arrived.
func (t *Tracker) Pending() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.pending)
		s.mu.Unlock()
	}
	return n
}

// Unmatched is how many Done calls named no pending id.
func (t *Tracker) Unmatched() uint64 {
	var n uint64
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += s.unmatched
		s.mu.Unlock()
	}
	return n
}

// Histogram returns a merged copy of the recorded latencies in microseconds.
func (t *Tracker) Histogram() *hdrhistogram.Histogram {
	h := newHist()
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		if s.hist != nil {
			h.Merge(s.hist)
		}
		s.mu.Unlock()
	}
	return h
}

// Summary summarises the recorded latencies.
func (t *Tracker) Summary() Summary { return Summarize(t.Histogram()) }
