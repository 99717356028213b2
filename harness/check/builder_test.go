package check

import (
	"time"

	"github.com/edkit-dev/edkit/harness/history"
)

// hb builds histories for tests: each op gets the next Index and a Time of
// one millisecond per op; deliver/ack/... ops copy the Key, Seq and
// Producer their message was published with.
type hb struct {
	ops  []history.Op
	meta map[string]history.Op
	// process records the next publishes; producer is stamped on them.
	process, producer string
}

func newHB() *hb { return &hb{meta: map[string]history.Op{}, process: "p"} }

// by makes process record the publishes that follow, stamping producer on
// their messages ("" for no stamp).
func (b *hb) by(process, producer string) *hb {
	b.process, b.producer = process, producer
	return b
}

func (b *hb) add(op history.Op) *hb {
	op.Index = int64(len(b.ops))
	op.Time = time.Duration(len(b.ops)) * time.Millisecond
	if op.Type == "" {
		op.Type = history.OK
	}
	if m, ok := b.meta[op.MsgID]; ok {
		if op.Key == "" {
			op.Key = m.Key
		}
		if op.Seq == 0 {
			op.Seq = m.Seq
		}
		if op.Topic == "" {
			op.Topic = m.Topic
		}
		if op.Producer == "" {
			op.Producer = m.Producer
		}
	}
	b.ops = append(b.ops, op)
	return b
}

// pub records a publish invoke of id and then its outcome, unless outcome
// is "" (still in flight at the end of the run).
func (b *hb) pub(id, key string, seq int64, outcome history.Type) *hb {
	b.invoke(id, key, seq)
	if outcome != "" {
		b.done(id, outcome)
	}
	return b
}

func (b *hb) invoke(id, key string, seq int64) *hb {
	b.meta[id] = history.Op{Process: b.process, Topic: "t", Key: key, Seq: seq, Producer: b.producer}
	return b.add(history.Op{Process: b.process, Type: history.Invoke, F: history.Publish, MsgID: id})
}

// done completes id's publish, recorded by the process that invoked it.
func (b *hb) done(id string, outcome history.Type) *hb {
	return b.add(history.Op{Process: b.meta[id].Process, Type: outcome, F: history.Publish, MsgID: id})
}

func (b *hb) deliver(g, id string, attempt int) *hb {
	return b.add(history.Op{Process: "c", F: history.Deliver, Group: g, MsgID: id, Attempt: attempt})
}

func (b *hb) ack(g, id string) *hb {
	return b.add(history.Op{Process: "c", F: history.Ack, Group: g, MsgID: id})
}

func (b *hb) nack(g, id string) *hb {
	return b.add(history.Op{Process: "c", F: history.Nack, Group: g, MsgID: id, Value: "requeue"})
}

func (b *hb) effect(g, id, name string) *hb {
	return b.add(history.Op{Process: "c", F: history.Effect, Group: g, MsgID: id, Value: name})
}

func (b *hb) dead(g, id, reason string, attempt int) *hb {
	return b.add(history.Op{Process: "c", F: history.DeadLetter, Group: g, MsgID: id, Value: reason, Attempt: attempt})
}

// consume delivers, acks and records nothing else: the happy path.
func (b *hb) consume(g, id string) *hb { return b.deliver(g, id, 1).ack(g, id) }

// checkCase is one row of a checker's table test.
type checkCase struct {
	name  string
	build func(b *hb)
	// want lists, per expected anomaly in time order, the Index of each
	// witness op; nil means the history is clean.
	want [][]int64
	// summary, if set, must appear in the first anomaly's Summary.
	summary string
	// note, if set, must be the Result's Note.
	note string
}
