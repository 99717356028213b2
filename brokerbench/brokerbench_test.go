package brokerbench_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/brokerbench"
	"github.com/edkit-dev/edkit/harness/env/envtest"
	"github.com/edkit-dev/edkit/reference/bus"
)

func TestMain(m *testing.M) { envtest.CheckNoLeaks(m) }

// startBroker starts b for one test and stops it afterwards; it fails
// (never skips) when b cannot start: make deps installs the servers.
func startBroker(t *testing.T, b brokerbench.Broker) brokerbench.Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	e, target, err := brokerbench.StartBroker(ctx, b)
	if err != nil {
		t.Fatalf("%s cannot start: %v", b, err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("stop %s: %v", b, err)
		}
	})
	return target
}

// compare runs Compare with test-sized timeouts.
func compare(t *testing.T, target brokerbench.Target, w brokerbench.Workload, opts ...brokerbench.Option) brokerbench.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	opts = append([]brokerbench.Option{brokerbench.DrainTimeout(15 * time.Second), brokerbench.WarmupTimeout(30 * time.Second)}, opts...)
	res, err := brokerbench.Compare(ctx, target, w, opts...)
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	var out strings.Builder
	if err := res.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	return res
}

// checkMoved asserts a client moved every message and measured it.
func checkMoved(t *testing.T, w brokerbench.Workload, s brokerbench.Stats) {
	t.Helper()
	if s.Produced == 0 {
		t.Errorf("%s: produced nothing", s.Client)
	}
	if w.Mode == brokerbench.ConsumeOnly && s.Produced != uint64(w.Backlog) {
		t.Errorf("%s: backlog %d, produced %d", s.Client, w.Backlog, s.Produced)
	}
	if s.Consumed != s.Produced {
		t.Errorf("%s: consumed %d of %d produced", s.Client, s.Consumed, s.Produced)
	}
	if s.Publish.Count != s.Produced {
		t.Errorf("%s: %d publish latencies for %d messages", s.Client, s.Publish.Count, s.Produced)
	}
	if s.EndToEnd.Count != s.Consumed {
		t.Errorf("%s: %d end-to-end latencies for %d messages", s.Client, s.EndToEnd.Count, s.Consumed)
	}
	if s.EndToEnd.P50 <= 0 || s.EndToEnd.P99 < s.EndToEnd.P50 || s.EndToEnd.Max < s.EndToEnd.P999 {
		t.Errorf("%s: end-to-end percentiles out of order: %v", s.Client, s.EndToEnd)
	}
	if s.ConsumeRate <= 0 || s.ConsumeMBps <= 0 || s.ProduceRate <= 0 {
		t.Errorf("%s: rates %v/s produced, %v/s (%v MB/s) consumed", s.Client, s.ProduceRate, s.ConsumeRate, s.ConsumeMBps)
	}
}

func checkRatio(t *testing.T, r brokerbench.Ratio, m brokerbench.Mode) {
	t.Helper()
	for name, v := range map[string]float64{"throughput": r.Throughput, "p99": r.P99(m), "publish p99": r.PublishP99} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			t.Errorf("ratio %s = %v, want finite and positive", name, v)
		}
	}
}

// TestCompare runs, on each broker, a produce-consume workload with two
// producers and two consumers and a consume-only one with a backlog, and
// checks both clients moved every message (consumed == produced: nothing
// lost, nothing twice), recorded a latency per message, and gave a finite
// ratio.
func TestCompare(t *testing.T) {
	for _, b := range brokerbench.Brokers() {
		t.Run(string(b), func(t *testing.T) {
			target := startBroker(t, b)
			for _, w := range []brokerbench.Workload{
				{Mode: brokerbench.ProduceConsume, Producers: 2, Consumers: 2, MessageSize: 256, Partitions: 4,
					Batch: 5, Duration: 400 * time.Millisecond},
				{Mode: brokerbench.ConsumeOnly, Producers: 2, Consumers: 2, MessageSize: 128, Partitions: 4,
					Batch: 50, Backlog: 1500},
			} {
				t.Run(w.Mode.String(), func(t *testing.T) {
					res := compare(t, target, w)
					checkMoved(t, w, res.Bare)
					checkMoved(t, w, res.Edkit)
					checkRatio(t, res.Ratio, w.Mode)
					if res.Bare.Client != brokerbench.Bare || res.Edkit.Client != brokerbench.Edkit {
						t.Errorf("clients %q, %q", res.Bare.Client, res.Edkit.Client)
					}
				})
			}
		})
	}
}

// slowBus delays every publish: an edkit client that costs more than the
// bare one, which the ratio must show.
type slowBus struct {
	bus.Bus
	delay time.Duration
}

func (s slowBus) Publish(ctx context.Context, msgs ...*bus.Message) error {
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Bus.Publish(ctx, msgs...)
}

// TestSlowedEdkitClientLowersTheRatio wraps the edkit client's buses with
// a 20 ms publish delay (ten times a bare publish to embedded Kafka)
// and checks the comparison notices: a throughput ratio well below 1, and
// the delay in edkit's publish latency. A comparison blind to the edkit
// client's cost (measuring the bare client twice, or mixing the clients'
// counters) fails it.
func TestSlowedEdkitClientLowersTheRatio(t *testing.T) {
	const delay = 20 * time.Millisecond
	target := startBroker(t, brokerbench.Kafka)
	w := brokerbench.Workload{Mode: brokerbench.ProduceOnly, Producers: 1, MessageSize: 64, Partitions: 1,
		Batch: 1, Duration: 500 * time.Millisecond}
	res := compare(t, target, w, brokerbench.WrapEdkit(func(b bus.Bus) bus.Bus { return slowBus{Bus: b, delay: delay} }))
	if res.Ratio.Throughput >= 0.6 {
		t.Errorf("throughput ratio %.2f with a %v publish delay, want < 0.6", res.Ratio.Throughput, delay)
	}
	if res.Edkit.Publish.P50 < delay || res.Edkit.Publish.P50 <= res.Bare.Publish.P50 {
		t.Errorf("publish p50: edkit %v, bare %v; want the %v delay in edkit's", res.Edkit.Publish.P50, res.Bare.Publish.P50, delay)
	}
	if res.Edkit.Consumed != 0 || res.Edkit.EndToEnd.Count != 0 || !math.IsNaN(res.Ratio.EndToEndP99) {
		t.Errorf("produce-only consumed: %+v, e2e ratio %v", res.Edkit, res.Ratio.EndToEndP99)
	}
	if line := res.RatioLine(); !strings.Contains(line, "publish p99") {
		t.Errorf("produce-only ratio line %q, want the publish p99", line)
	}
}

// TestValidate names each bad field.
func TestValidate(t *testing.T) {
	good := brokerbench.Workload{Mode: brokerbench.ProduceConsume, Producers: 1, Consumers: 1, MessageSize: 1024,
		Partitions: 4, Batch: 1, Duration: time.Second}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid workload: %v", err)
	}
	consume := good
	consume.Mode, consume.Duration, consume.Backlog = brokerbench.ConsumeOnly, 0, 10
	if err := consume.Validate(); err != nil {
		t.Fatalf("valid consume-only workload: %v", err)
	}
	for _, c := range []struct {
		field string
		edit  func(*brokerbench.Workload)
	}{
		{"Mode", func(w *brokerbench.Workload) { w.Mode = 7 }},
		{"Producers", func(w *brokerbench.Workload) { w.Producers = 0 }},
		{"Producers", func(w *brokerbench.Workload) { w.Producers = brokerbench.MaxProducers + 1 }},
		{"Consumers", func(w *brokerbench.Workload) { w.Consumers = 0 }},
		{"Consumers", func(w *brokerbench.Workload) { w.Consumers = brokerbench.MaxConsumers + 1 }},
		{"Consumers", func(w *brokerbench.Workload) { w.Mode = brokerbench.ProduceOnly }},
		{"MessageSize", func(w *brokerbench.Workload) { w.MessageSize = 4 }},
		{"MessageSize", func(w *brokerbench.Workload) { w.MessageSize = 1 << 20 }},
		{"Partitions", func(w *brokerbench.Workload) { w.Partitions = 0 }},
		{"Batch", func(w *brokerbench.Workload) { w.Batch = 0 }},
		{"Batch", func(w *brokerbench.Workload) { w.Batch = brokerbench.MaxBatch + 1 }},
		{"Rate", func(w *brokerbench.Workload) { w.Rate = -1 }},
		{"Rate", func(w *brokerbench.Workload) { w.Rate = math.NaN() }},
		{"Duration", func(w *brokerbench.Workload) { w.Duration = 0 }},
		{"Duration", func(w *brokerbench.Workload) { w.Duration = 25 * time.Hour }},
		{"Backlog", func(w *brokerbench.Workload) { w.Backlog = 5 }},
		{"Backlog", func(w *brokerbench.Workload) { w.Mode, w.Duration = brokerbench.ConsumeOnly, 0 }},
		{"Duration", func(w *brokerbench.Workload) { w.Mode, w.Backlog = brokerbench.ConsumeOnly, 5 }},
	} {
		t.Run(c.field, func(t *testing.T) {
			w := good
			c.edit(&w)
			err := w.Validate()
			if !errors.Is(err, brokerbench.ErrBadWorkload) {
				t.Fatalf("%+v: Validate = %v, want ErrBadWorkload", w, err)
			}
			ps := w.Problems()
			if len(ps) != 1 || ps[0].Field != c.field {
				t.Fatalf("%+v: problems %v, want one naming %s", w, err, c.field)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("error %q does not name %s", err, c.field)
			}
		})
	}
	if _, err := brokerbench.Compare(t.Context(), brokerbench.Target{Broker: brokerbench.Kafka}, brokerbench.Workload{}); !errors.Is(err, brokerbench.ErrBadWorkload) {
		t.Errorf("Compare with a zero workload: %v, want ErrBadWorkload", err)
	}
}

// TestParse checks the names front ends use.
func TestParse(t *testing.T) {
	for _, b := range brokerbench.Brokers() {
		if got, err := brokerbench.ParseBroker(string(b)); err != nil || got != b {
			t.Errorf("ParseBroker(%q) = %q, %v", b, got, err)
		}
	}
	if _, err := brokerbench.ParseBroker("pulsar"); !errors.Is(err, brokerbench.ErrUnknownBroker) {
		t.Errorf("ParseBroker(pulsar) = %v", err)
	}
	for _, m := range []brokerbench.Mode{brokerbench.ProduceOnly, brokerbench.ConsumeOnly, brokerbench.ProduceConsume} {
		if got, err := brokerbench.ParseMode(m.String()); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := brokerbench.ParseMode("both"); !errors.Is(err, brokerbench.ErrBadWorkload) {
		t.Errorf("ParseMode(both) = %v", err)
	}
}
