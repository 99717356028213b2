package brokerbench

import (
	"math"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/edkit-dev/edkit/loadgen"
)

// Client is one of the two clients Compare runs on the same broker.
type Client string

// The clients.
const (
	// Bare is the broker's plain Go client library, used directly.
	Bare Client = "bare"
	// Edkit is edkit's bus backend for the broker (reference/bus/...).
	Edkit Client = "edkit"
)

// Histogram bounds, as loadgen's: microseconds from 1 µs to 60 s with 3
// significant figures; an outlier past them is clamped, not dropped.
const (
	histMin     = 1
	histMax     = int64(60 * time.Second / time.Microsecond)
	histSigFigs = 3
	histShards  = 8
)

// latencies is an HDR histogram sharded by worker, so producers and
// consumers rarely contend. Its memory is fixed, whatever the run's
// length: histShards histograms, made on first use.
type latencies struct {
	shards [histShards]struct {
		mu sync.Mutex
		h  *hdrhistogram.Histogram
	}
}

// record adds n samples of d from worker.
func (l *latencies) record(worker int, d time.Duration, n int) {
	us := min(max(int64(d/time.Microsecond), histMin), histMax)
	s := &l.shards[worker%histShards]
	s.mu.Lock()
	if s.h == nil {
		s.h = hdrhistogram.New(histMin, histMax, histSigFigs)
	}
	_ = s.h.RecordValues(us, int64(n)) // in range by construction
	s.mu.Unlock()
}

// summary merges the shards.
func (l *latencies) summary() loadgen.Summary {
	h := hdrhistogram.New(histMin, histMax, histSigFigs)
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		if s.h != nil {
			h.Merge(s.h)
		}
		s.mu.Unlock()
	}
	return loadgen.Summarize(h)
}

// Stats is what one client did in one run.
type Stats struct {
	Client Client
	// Library names the code under test: the client library for Bare, the
	// bus backend for Edkit.
	Library string
	// Produced counts messages the broker acknowledged; Consumed those the
	// consumers received and acknowledged. Warm-up messages count in
	// neither.
	Produced, Consumed uint64
	// ProduceTime runs from the producers' start to the last
	// acknowledgement; ConsumeTime from the producers' start (in
	// ConsumeOnly: the consumers' resumption) to the last consumption.
	ProduceTime, ConsumeTime time.Duration
	// Rates in messages per second and MB/s (OMB's MB: 2^20 bytes).
	ProduceRate, ProduceMBps float64
	ConsumeRate, ConsumeMBps float64
	// Publish is each message's latency from its publish call (in an open
	// loop, its scheduled time) to the broker's acknowledgement; EndToEnd
	// from that time, carried in the payload, to its receipt by a consumer.
	Publish, EndToEnd loadgen.Summary
}

// setRates derives the rates from the counts and times.
func (s *Stats) setRates(size int) {
	rate := func(n uint64, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / d.Seconds()
	}
	mb := func(r float64) float64 { return r * float64(size) / (1 << 20) }
	s.ProduceRate = rate(s.Produced, s.ProduceTime)
	s.ConsumeRate = rate(s.Consumed, s.ConsumeTime)
	s.ProduceMBps, s.ConsumeMBps = mb(s.ProduceRate), mb(s.ConsumeRate)
}

// Throughput is the mode's headline rate in messages per second: what the
// consumers sustained, or, in ProduceOnly, what the producers did.
func (s Stats) Throughput(m Mode) float64 {
	if m.consumes() {
		return s.ConsumeRate
	}
	return s.ProduceRate
}

// ThroughputMBps is Throughput in MB/s.
func (s Stats) ThroughputMBps(m Mode) float64 {
	if m.consumes() {
		return s.ConsumeMBps
	}
	return s.ProduceMBps
}

// Ratio is edkit's figure over the bare client's: above 1 edkit is
// faster (throughput) or slower (latency).
type Ratio struct {
	// Throughput of the mode's headline rate (Stats.Throughput).
	Throughput float64
	// PublishP99 and EndToEndP99 of the latencies; EndToEndP99 is NaN in
	// ProduceOnly, where nothing is consumed.
	PublishP99, EndToEndP99 float64
}

// P99 is the mode's headline latency ratio: end-to-end, or in
// ProduceOnly the publish latency.
func (r Ratio) P99(m Mode) float64 {
	if m.consumes() {
		return r.EndToEndP99
	}
	return r.PublishP99
}

func ratioOf(m Mode, bare, edkit Stats) Ratio {
	div := func(a, b float64) float64 {
		if b == 0 {
			return math.NaN()
		}
		return a / b
	}
	r := Ratio{
		Throughput: div(edkit.Throughput(m), bare.Throughput(m)),
		PublishP99: div(float64(edkit.Publish.P99), float64(bare.Publish.P99)),
	}
	r.EndToEndP99 = math.NaN()
	if m.consumes() {
		r.EndToEndP99 = div(float64(edkit.EndToEnd.P99), float64(bare.EndToEnd.P99))
	}
	return r
}
