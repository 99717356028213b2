package harness

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/reports"
)

// DefaultSampleEvery is the interval of a run's time series.
const DefaultSampleEvery = time.Second

// sampler builds the run's time series while it goes: the load's sends
// (counted by the driver), the system's completions and their end-to-end
// latency in the interval (the trackers' windows), and what is in flight.
// Its memory is bounded by reports.MaxSamples, however long the run.
type sampler struct {
	r                *run
	sent, ok, errors atomic.Uint64
	start            time.Time

	mu     sync.Mutex
	series []reports.Sample
	prev   [3]uint64
}

// sampling starts the series at the start of the load; the returned stop
// takes a last sample and ends it.
func (r *run) sampling(s *Session) (stop func()) {
	every := r.o.SampleEvery
	if every <= 0 {
		every = DefaultSampleEvery
	}
	sm := &sampler{r: r, start: time.Now()}
	r.sampler = sm
	r.env.Visible.TakeWindow() // what came before the load is not the load's
	r.env.Settled.TakeWindow()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				sm.sample(s)
				return
			case <-tick.C:
				sm.sample(s)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }
}

func (sm *sampler) sample(s *Session) {
	now := [3]uint64{sm.sent.Load(), sm.ok.Load(), sm.errors.Load()}
	e2e := sm.r.env.Visible.TakeWindow()
	if settled := sm.r.env.Settled.TakeWindow(); e2e.Count == 0 {
		e2e = settled
	}
	_, inFlight := s.outstanding()
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.series = reports.AddSample(sm.series, reports.Sample{
		At: time.Since(sm.start), Sent: now[0] - sm.prev[0], OK: now[1] - sm.prev[1], Errors: now[2] - sm.prev[2],
		Done: e2e.Count, E2EP50: e2e.P50, E2EP99: e2e.P99, E2EMax: e2e.Max, InFlight: inFlight,
	})
	sm.prev = now
}

func (sm *sampler) result() []reports.Sample {
	if sm == nil {
		return nil
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return append([]reports.Sample(nil), sm.series...)
}

// faultSpans pairs the nemesis journal's injections with their heals.
func faultSpans(journal []chaos.Action) []reports.FaultSpan {
	var spans []reports.FaultSpan
	open := map[string]int{}
	for _, a := range journal {
		switch a.Kind {
		case "inject":
			spans = append(spans, reports.FaultSpan{Fault: a.Fault, Start: a.At, End: a.At, Error: a.Error})
			open[a.Fault] = len(spans) - 1
		case "heal":
			if i, ok := open[a.Fault]; ok {
				spans[i].End = a.At
				if a.Error != "" {
					spans[i].Error = a.Error
				}
				delete(open, a.Fault)
			}
		}
	}
	return spans
}
