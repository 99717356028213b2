package check

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/history"
)

// The relay of these histories publishes as process "relay" to topic
// "events"; anything else is another publisher the checker must ignore.
const obRelay, obTopic = "relay", "events"

func obOptions() OutboxOptions {
	return OutboxOptions{Topics: []string{obTopic}, Processes: []string{obRelay}}
}

// obCommit records the commit of event id at version v of stream.
func obCommit(b *hb, stream, id string, v int64) {
	b.add(history.Op{Process: "writer", F: history.Commit, Key: stream, MsgID: id, Seq: v})
}

// obPub records process publishing id to topic: an invoke, then outcome.
func obPub(b *hb, process, topic, id string, outcome history.Type) {
	b.add(history.Op{Process: process, Type: history.Invoke, F: history.Publish, Topic: topic, Key: "k", MsgID: id})
	b.add(history.Op{Process: process, Type: outcome, F: history.Publish, Topic: topic, Key: "k", MsgID: id})
}

// obRelayed records the relay publishing each id OK, in turn.
func obRelayed(b *hb, ids ...string) {
	for _, id := range ids {
		obPub(b, obRelay, obTopic, id, ok)
	}
}

func TestOutboxAtomicity(t *testing.T) {
	runCases(t, OutboxAtomicity(obOptions()), []checkCase{
		{name: "clean: every commit published once", build: func(b *hb) {
			obCommit(b, "s1", "e1", 1)
			obCommit(b, "s2", "f1", 1)
			obCommit(b, "s1", "e2", 2)
			obRelayed(b, "e1", "f1", "e2")
		}},
		{name: "clean: republished after a relay crash (at-least-once)", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obCommit(b, "s", "e2", 2)
			obCommit(b, "s", "e3", 3)
			obRelayed(b, "e1", "e2", "e3", "e2", "e3")
		}},
		{name: "clean: failed attempt retried", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obPub(b, obRelay, obTopic, "e1", fail)
			obPub(b, obRelay, obTopic, "e1", info)
			obRelayed(b, "e1")
		}},
		{name: "clean: relay publishes before the writer records its commit", build: func(b *hb) {
			obRelayed(b, "e1")
			obCommit(b, "s", "e1", 1)
		}},
		{name: "clean: ops out of time order", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obCommit(b, "s", "e2", 2)
			obRelayed(b, "e1", "e2")
			slices.Reverse(b.ops)
		}},
		{name: "clean: merged recorders, time orders where indexes restart", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obCommit(b, "s", "e2", 2)
			obRelayed(b, "e1") // the first relay instance's recorder
			obRelayed(b, "e2") // its successor's, counting from 0 again
			b.ops[4].Index, b.ops[5].Index = 0, 1
		}},
		{name: "clean: other publishers and topics are not the relay", build: func(b *hb) {
			obPub(b, "loadgen", "commands", "cmd-1", ok)
			obPub(b, obRelay, "audit", "audit-1", ok)
			obPub(b, "loadgen", obTopic, "forged", ok)
			obCommit(b, "s", "e1", 1)
			obRelayed(b, "e1")
		}},
		{name: "clean: topicless ok after an invoke on the relay topic", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			b.add(history.Op{Process: obRelay, Type: history.Invoke, F: history.Publish, Topic: obTopic, MsgID: "e1"})
			b.add(history.Op{Process: obRelay, Type: ok, F: history.Publish, MsgID: "e1"})
		}},
		{name: "clean: other streams' order is their own", build: func(b *hb) {
			obCommit(b, "s1", "e1", 1)
			obCommit(b, "s2", "f1", 1)
			obCommit(b, "s2", "f2", 2)
			obCommit(b, "s1", "e2", 2)
			obRelayed(b, "f1", "e1", "e2", "f2")
		}},
		{name: "clean: two events claiming one version are not an order anomaly", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obCommit(b, "s", "x1", 1) // a concurrency bug, judged by its own checker
			obCommit(b, "s", "e2", 2)
			obRelayed(b, "e1", "x1", "e2")
		}},
		{name: "lost: the earliest of repeated commits witnesses", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obCommit(b, "s", "e1", 1)
		}, want: [][]int64{{0}}},
		{name: "lost: committed, never published", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obCommit(b, "s", "e2", 2)
			obRelayed(b, "e2")
		}, want: [][]int64{{0}},
			summary: "event e1 (stream s, version 1) was committed but never published OK: lost by the outbox"},
		{name: "lost: every attempt failed or ended unknown", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obPub(b, obRelay, obTopic, "e1", fail)
			obPub(b, obRelay, obTopic, "e1", info)
		}, want: [][]int64{{0}}, summary: "(2 publish attempt(s), none ok)"},
		{name: "lost: published only by another process or to another topic", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obPub(b, "loadgen", obTopic, "e1", ok)
			obPub(b, obRelay, "audit", "e1", ok)
		}, want: [][]int64{{0}}},
		{name: "lost: topicless ok of an invoke on another topic", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			b.add(history.Op{Process: obRelay, Type: history.Invoke, F: history.Publish, Topic: "audit", MsgID: "e1"})
			b.add(history.Op{Process: obRelay, Type: ok, F: history.Publish, MsgID: "e1"})
		}, want: [][]int64{{0}}},
		{name: "lost: ops out of time order", build: func(b *hb) {
			obRelayed(b, "e2")
			obCommit(b, "s", "e2", 2)
			obCommit(b, "s", "e1", 1)
			slices.Reverse(b.ops)
		}, want: [][]int64{{3}}, summary: "event e1 (stream s, version 1)"},
		{name: "phantom: relay published an event never committed", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obRelayed(b, "e1", "ghost", "ghost")
		}, want: [][]int64{{4}},
			summary: "message ghost (topic events, key k) was published OK by relay but its event was never committed: a phantom"},
		{name: "out of order: v2 first published before v1", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obCommit(b, "s", "e2", 2)
			obRelayed(b, "e2", "e1", "e2")
		}, want: [][]int64{{0, 1, 3, 5}},
			summary: "stream s: event e1 (version 1) was first published after event e2 (version 2): out of commit order"},
		{name: "out of order: ops out of time order", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obCommit(b, "s", "e2", 2)
			obRelayed(b, "e2", "e1")
			slices.Reverse(b.ops)
		}, want: [][]int64{{0, 1, 3, 5}}},
		{name: "out of order: each event behind a later version", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obCommit(b, "s", "e2", 2)
			obCommit(b, "s", "e3", 3)
			obRelayed(b, "e3", "e1", "e2")
		}, want: [][]int64{{0, 2, 4, 6}, {1, 2, 4, 8}}},
		{name: "all three, in time order", build: func(b *hb) {
			obCommit(b, "s", "a1", 1)
			obCommit(b, "s", "a2", 2)
			obCommit(b, "t", "b1", 1)
			obRelayed(b, "a2", "a1", "ghost")
		}, want: [][]int64{{2}, {0, 1, 4, 6}, {8}}},
	})
}

func TestOutboxAtomicityMessageID(t *testing.T) {
	o := obOptions()
	o.MessageID = func(id string) string { return "msg-" + id }
	runCases(t, OutboxAtomicity(o), []checkCase{
		{name: "clean: published under the mapped ID", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obCommit(b, "s", "e2", 2)
			obRelayed(b, "msg-e1", "msg-e2")
		}},
		{name: "published under the raw event ID: lost and phantom", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obRelayed(b, "e1")
		}, want: [][]int64{{0}, {2}}, summary: "event e1 (stream s, version 1) as message msg-e1 was committed"},
	})
}

func TestOutboxAtomicityAnyPublisher(t *testing.T) {
	runCases(t, OutboxAtomicity(OutboxOptions{}), []checkCase{
		{name: "clean: any process, any topic", build: func(b *hb) {
			obCommit(b, "s", "e1", 1)
			obPub(b, "loadgen", "commands", "e1", ok)
		}},
		{name: "phantom: any publish of an uncommitted message", build: func(b *hb) {
			obPub(b, "loadgen", "commands", "cmd-1", ok)
		}, want: [][]int64{{1}}},
	})
}

func TestOutboxAtomicityRouted(t *testing.T) {
	o := obOptions()
	o.Routed = func(c history.Op) bool { return !strings.HasPrefix(c.Key, "saga-") }
	c := OutboxAtomicity(o)
	runCases(t, c, []checkCase{
		{name: "clean: events the route keeps in the store", build: func(b *hb) {
			obCommit(b, "saga-1", "t1", 1)
			obCommit(b, "order-1", "e1", 1)
			obRelayed(b, "e1")
		}},
		{name: "clean: an unrouted event published anyway is no phantom", build: func(b *hb) {
			obCommit(b, "saga-1", "t1", 1)
			obRelayed(b, "t1")
		}},
		{name: "lost: a routed event", build: func(b *hb) {
			obCommit(b, "saga-1", "t1", 1)
			obCommit(b, "order-1", "e1", 1)
		}, want: [][]int64{{1}}},
	})
}

// Checked counts committed events, each once however often it was
// committed or published; routed-out events are not counted.
func TestOutboxAtomicityChecked(t *testing.T) {
	b := newHB()
	obCommit(b, "s", "e1", 1)
	obCommit(b, "s", "e1", 1) // an idempotent retry recorded twice
	obCommit(b, "s", "e2", 2)
	obCommit(b, "saga-1", "t1", 1)
	obRelayed(b, "e1", "e2", "e2")
	o := obOptions()
	o.Routed = func(c history.Op) bool { return !strings.HasPrefix(c.Key, "saga-") }
	r := OutboxAtomicity(o).Check(b.ops)
	if !r.Valid || r.Checked != 2 || len(r.Anomalies) != 0 || r.Invariant != InvOutboxAtomicity {
		t.Fatalf("result = %+v, want valid with 2 checked", r)
	}
	if r := OutboxAtomicity(obOptions()).Check(nil); !r.Valid || r.Checked != 0 {
		t.Fatalf("empty history: %+v", r)
	}
}

// Listing is capped; every anomaly is counted.
func TestOutboxAtomicityCap(t *testing.T) {
	b := newHB()
	for i := range 30 {
		obCommit(b, "s", fmt.Sprintf("e%d", i), int64(i+1))
	}
	o := obOptions()
	o.MaxAnomalies = 5
	r := OutboxAtomicity(o).Check(b.ops)
	if r.Valid || r.Found != 30 || len(r.Anomalies) != 5 || r.Checked != 30 {
		t.Fatalf("Valid=%v Found=%d listed=%d Checked=%d, want invalid, 30 found, 5 listed, 30 checked",
			r.Valid, r.Found, len(r.Anomalies), r.Checked)
	}
	if r.Anomalies[0].Witness[0].MsgID != "e0" || r.Note != "30 anomalies, 25 not listed" {
		t.Fatalf("first listed %s, note %q: want the earliest listed", r.Anomalies[0].Summary, r.Note)
	}
}

// outboxHistory is a clean history of about n ops: events committed on
// 1000 streams, each published by the relay; every 100th is republished.
func outboxHistory(n int) []history.Op {
	ops := make([]history.Op, 0, n+8)
	add := func(op history.Op) {
		op.Index = int64(len(ops))
		op.Time = time.Duration(len(ops)) * time.Microsecond
		ops = append(ops, op)
	}
	pub := func(id, key string) {
		add(history.Op{Process: obRelay, Type: history.Invoke, F: history.Publish, Topic: obTopic, Key: key, MsgID: id})
		add(history.Op{Process: obRelay, Type: history.OK, F: history.Publish, Topic: obTopic, Key: key, MsgID: id})
	}
	version := make([]int64, 1000)
	for i := 0; len(ops) < n; i++ {
		s := i % len(version)
		version[s]++
		id, stream := fmt.Sprintf("evt-%d", i), fmt.Sprintf("stream-%d", s)
		add(history.Op{Process: "writer", Type: history.OK, F: history.Commit, Key: stream, MsgID: id, Seq: version[s]})
		pub(id, stream)
		if i%100 == 0 {
			pub(id, stream)
		}
	}
	return ops
}

func BenchmarkOutboxAtomicity(b *testing.B) {
	ops := outboxHistory(100_000)
	c := OutboxAtomicity(obOptions())
	if r := c.Check(ops); !r.Valid || r.Checked == 0 {
		b.Fatalf("generated history is not clean: %+v", r)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Check(ops)
	}
	b.ReportMetric(float64(len(ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
