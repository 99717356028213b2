package check

import (
	"fmt"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/history"
)

// benchHistory generates a clean history of about n ops: messages on 1000
// keys consumed by two groups, one of which runs an effect; every 50th
// message is nacked and redelivered, every 97th dead-lettered.
func benchHistory(n int) []history.Op {
	ops := make([]history.Op, 0, n+16)
	seq := make([]int64, 1000)
	add := func(op history.Op) {
		op.Index = int64(len(ops))
		op.Time = time.Duration(len(ops)) * time.Microsecond
		ops = append(ops, op)
	}
	for i := 0; len(ops) < n; i++ {
		k := i % len(seq)
		seq[k]++
		id, key := fmt.Sprintf("msg-%d", i), fmt.Sprintf("key-%d", k)
		base := history.Op{Process: "producer", Topic: "orders", Key: key, MsgID: id, Seq: seq[k]}
		op := base
		op.Type, op.F = history.Invoke, history.Publish
		add(op)
		op.Type = history.OK
		add(op)
		for _, g := range [...]string{"billing", "shipping"} {
			c := base
			c.Process, c.Group, c.Type, c.Topic = "consumer-"+g, g, history.OK, ""
			c.F, c.Attempt = history.Deliver, 1
			add(c)
			if i%50 == 0 {
				c.F, c.Value = history.Nack, "requeue"
				add(c)
				c.F, c.Value, c.Attempt = history.Deliver, "", 2
				add(c)
			}
			if g == "billing" {
				c.F, c.Value = history.Effect, "charge"
				add(c)
				c.Value = ""
			}
			if i%97 == 0 {
				c.F, c.Value = history.DeadLetter, "poison"
			} else {
				c.F = history.Ack
			}
			add(c)
		}
	}
	return ops
}

func allCheckers() []Checker {
	return []Checker{
		NewLoss(LossOptions{Groups: map[string][]string{"orders": {"billing", "shipping"}}}),
		NewPhantom(PhantomOptions{}),
		NewOrder(OrderOptions{}),
		NewDuplicateDelivery(DuplicateDeliveryOptions{}),
		NewDuplicateEffect(DuplicateEffectOptions{}),
		NewDLQAccounting(DLQAccountingOptions{}),
	}
}

// BenchmarkBaseline is the floor: one bare pass over the ops, touching the
// fields a checker reads.
func BenchmarkBaseline(b *testing.B) {
	ops := benchHistory(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for b.Loop() {
		for i := range ops {
			if ops[i].F == history.Deliver && ops[i].MsgID != "" {
				n++
			}
		}
	}
	b.ReportMetric(float64(len(ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	_ = n
}

// BenchmarkCheckers runs all six checkers over a 1M-op history through
// Run; B/op divided by the history length is the memory cost per op.
func BenchmarkCheckers(b *testing.B) {
	ops := benchHistory(1 << 20)
	cs := allCheckers()
	if rs := Run(ops, cs...); !Valid(rs) {
		b.Fatalf("generated history is not clean: %+v", rs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Run(ops, cs...)
	}
	b.ReportMetric(float64(len(ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ops)), "ns/op-history")
}

// BenchmarkEachChecker runs each checker alone through Check, paying for
// its own index.
func BenchmarkEachChecker(b *testing.B) {
	ops := benchHistory(1 << 20)
	for _, c := range allCheckers() {
		b.Run(c.Name(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Check(ops)
			}
			b.ReportMetric(float64(len(ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkOrderPerProducer runs the Order checker alone in each producer
// mode over the same history, every message stamped with its producer, so
// the cost of judging per (key, producer) reads beside per key.
func BenchmarkOrderPerProducer(b *testing.B) {
	ops := benchHistory(1 << 20)
	for i := range ops {
		ops[i].Producer = "producer"
	}
	for _, m := range []struct {
		name string
		src  ProducerSource
	}{{"per-key", SingleProducer}, {"per-process", ProducerFromProcess}, {"per-stamp", ProducerFromStamp}} {
		c := NewOrder(OrderOptions{PerProducer: m.src})
		if r := c.Check(ops); !r.Valid || r.Checked != 2000 || r.Note != "" {
			b.Fatalf("%s: %+v", m.name, r)
		}
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Check(ops)
			}
			b.ReportMetric(float64(len(ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkRunStream judges the same history as BenchmarkCheckers through
// RunStream: split on disk into partitions of DefaultMaxOps (by message and
// by key), judged one at a time, merged — the price of flat memory.
func BenchmarkRunStream(b *testing.B) {
	ops := benchHistory(1 << 20)
	dir := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := RunStream(history.NewSlice(ops), StreamOptions{TempDir: dir}, allCheckers()...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
