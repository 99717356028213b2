package record_test

import (
	"context"
	"errors"
	"testing"

	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/harness/record"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

func fs(ops []history.Op) []string {
	var out []string
	for _, o := range ops {
		out = append(out, string(o.Type)+" "+string(o.F))
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBusStampsSequencesAndRecordsOutcomes(t *testing.T) {
	rec := history.NewRecorder(clock.Real{})
	mb := membus.New()
	t.Cleanup(func() { _ = mb.Close() })
	ledger := record.NewLedger()
	b := record.NewBus(mb, rec, "producer", record.WithLedger(ledger))
	m1 := &bus.Message{ID: "a", Topic: "t", Key: "k"}
	m2 := &bus.Message{ID: "b", Topic: "t", Key: "k"}
	if err := b.Publish(t.Context(), m1, m2); err != nil {
		t.Fatal(err)
	}
	if m1.Header(bus.HeaderSeq) != "" {
		t.Fatal("the caller's message was modified")
	}
	ops := rec.Ops()
	if got := fs(ops); !equal(got, []string{"invoke publish", "invoke publish", "ok publish", "ok publish"}) {
		t.Fatalf("ops %v", got)
	}
	if ops[0].Seq != 1 || ops[1].Seq != 2 || ops[0].Process != "producer" {
		t.Fatalf("sequences %d, %d; process %q", ops[0].Seq, ops[1].Seq, ops[0].Process)
	}
	if n := ledger.Outstanding(map[string][]string{"t": {"g"}}); n != 2 {
		t.Fatalf("outstanding %d, want 2 before any consumer settled", n)
	}
	if err := b.Publish(t.Context(), &bus.Message{ID: "c", Topic: ""}); err == nil {
		t.Fatal("membus accepted a message without a topic")
	}
	if last := rec.Ops()[rec.Len()-1]; last.Type != history.Fail {
		t.Fatalf("refused publish recorded as %s, want fail", last.Type)
	}
}

func TestConsumerRecordsSettlementsAndEffects(t *testing.T) {
	rec := history.NewRecorder(clock.Real{})
	ledger := record.NewLedger()
	errBoom := errors.New("boom")
	handler := func(ctx context.Context, m *bus.Message) error {
		switch m.ID {
		case "fails":
			return errBoom
		case "dead":
			record.DeadLetter(ctx, rec, "g", m, "poison", 3)
			return nil
		}
		record.Effect(ctx, rec, "charge")
		return nil
	}
	h := bus.Chain(handler, record.Consumer(rec, "g", record.WithLedger(ledger)), bus.WithMessageContext())
	for _, id := range []string{"ok", "fails", "dead"} {
		m := &bus.Message{ID: id, Topic: "t", Key: "k", Headers: map[string]string{bus.HeaderSeq: "4"}}
		_ = h(t.Context(), m)
	}
	ops := rec.Ops()
	want := []string{"ok deliver", "ok effect", "ok ack", "ok deliver", "ok nack", "ok deliver", "ok dead-letter"}
	if got := fs(ops); !equal(got, want) {
		t.Fatalf("ops %v, want %v", got, want)
	}
	eff := ops[1]
	if eff.MsgID != "ok" || eff.Group != "g" || eff.Value != "charge" || ops[0].Seq != 4 {
		t.Fatalf("effect %+v not attributed to its message and group", eff)
	}
	if ops[4].Error != "boom" {
		t.Fatalf("nack without its error: %+v", ops[4])
	}
	if ops[6].Attempt != 3 || ops[6].Value != "poison" {
		t.Fatalf("dead-letter %+v lost its attempts or reason", ops[6])
	}

	// Outside a handler an effect is still recorded, flagged.
	record.Effect(context.Background(), rec, "orphan")
	if last := rec.Ops()[rec.Len()-1]; last.Error == "" || last.Value != "orphan" {
		t.Fatalf("orphan effect %+v", last)
	}
}
