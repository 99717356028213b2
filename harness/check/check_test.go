package check

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/history"
)

const ok, fail, info = history.OK, history.Fail, history.Info

func runCases(t *testing.T, c Checker, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newHB()
			tc.build(b)
			// Check and Run (shared index) must agree.
			for _, r := range []Result{c.Check(b.ops), Run(b.ops, c)[0]} {
				assertResult(t, c, r, tc, b.ops)
			}
		})
	}
}

func assertResult(t *testing.T, c Checker, r Result, tc checkCase, ops []history.Op) {
	t.Helper()
	if r.Invariant != c.Name() {
		t.Errorf("Invariant = %q, want %q", r.Invariant, c.Name())
	}
	var got [][]int64
	for _, a := range r.Anomalies {
		if a.Invariant != c.Name() {
			t.Errorf("anomaly invariant = %q, want %q", a.Invariant, c.Name())
		}
		var idx []int64
		for _, op := range a.Witness {
			idx = append(idx, op.Index)
		}
		got = append(got, idx)
		// At is the op completing the witness: the last one, except for
		// duplicate effects, which break at the second run.
		wantAt := a.Witness[len(a.Witness)-1].Time
		if c.Name() == InvNoDupEffect {
			wantAt = secondEffect(a.Witness).Time
		}
		if a.At != wantAt {
			t.Errorf("At = %v, want %v", a.At, wantAt)
		}
	}
	if !slices.EqualFunc(got, tc.want, slices.Equal[[]int64]) {
		var lines []string
		for _, a := range r.Anomalies {
			lines = append(lines, a.Summary)
		}
		t.Fatalf("witnesses = %v, want %v\nanomalies: %s\nhistory:\n%s", got, tc.want, strings.Join(lines, "\n"), dump(ops))
	}
	if wantValid := len(tc.want) == 0; r.Valid != wantValid && !r.Permitted {
		t.Errorf("Valid = %v, want %v", r.Valid, wantValid)
	}
	if tc.summary != "" && !strings.Contains(r.Anomalies[0].Summary, tc.summary) {
		t.Errorf("summary %q does not contain %q", r.Anomalies[0].Summary, tc.summary)
	}
	if tc.note != "" && r.Note != tc.note {
		t.Errorf("Note = %q, want %q", r.Note, tc.note)
	}
}

func secondEffect(w []history.Op) history.Op {
	n := 0
	for _, op := range w {
		if op.F == history.Effect {
			if n++; n == 2 {
				return op
			}
		}
	}
	return history.Op{}
}

func dump(ops []history.Op) string {
	var b strings.Builder
	for _, op := range ops {
		b.WriteString(op.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestLoss(t *testing.T) {
	c := NewLoss(LossOptions{Groups: map[string][]string{"t": {"g1", "g2"}}})
	runCases(t, c, []checkCase{
		{name: "clean: every group acks", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).consume("g1", "m1").consume("g2", "m1")
		}},
		{name: "clean: nack then redelivery then ack", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).deliver("g1", "m1", 1).nack("g1", "m1").deliver("g1", "m1", 2).ack("g1", "m1").consume("g2", "m1")
		}},
		{name: "clean: dead-lettered counts as settled", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).deliver("g1", "m1", 1).dead("g1", "m1", "poison", 3).consume("g2", "m1")
		}},
		{name: "clean: info and failed publishes not required", build: func(b *hb) {
			b.pub("m1", "k", 1, info).pub("m2", "k", 2, fail).pub("m3", "k", 3, "")
		}},
		{name: "clean: other topics not configured", build: func(b *hb) {
			b.add(history.Op{Type: history.Invoke, F: history.Publish, Topic: "other", MsgID: "x"})
			b.add(history.Op{Type: history.OK, F: history.Publish, Topic: "other", MsgID: "x"})
		}},
		{name: "lost to one group", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).consume("g1", "m1").deliver("g2", "m1", 1).nack("g2", "m1")
		}, want: [][]int64{{0, 1}}, summary: "message m1 (topic t, key k, seq 1) was published OK but never acked or dead-lettered by group g2"},
		{name: "lost to a group that never ran", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).consume("g1", "m1").pub("m2", "k", 2, ok).consume("g1", "m2")
		}, want: [][]int64{{0, 1}, {4, 5}}, summary: "group g2"},
		{name: "retried publish: ok after fail is required", build: func(b *hb) {
			b.pub("m1", "k", 1, fail).pub("m1", "k", 1, ok).consume("g1", "m1")
		}, want: [][]int64{{0, 3}}},
	})
}

func TestPhantom(t *testing.T) {
	c := NewPhantom(PhantomOptions{})
	runCases(t, c, []checkCase{
		{name: "clean: published then delivered", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).consume("g", "m1")
		}},
		{name: "clean: info publish may be delivered", build: func(b *hb) {
			b.pub("m1", "k", 1, info).consume("g", "m1")
		}},
		{name: "clean: in-flight publish may be delivered", build: func(b *hb) {
			b.invoke("m1", "k", 1).consume("g", "m1").done("m1", ok)
		}},
		{name: "clean: failed then retried ok", build: func(b *hb) {
			b.pub("m1", "k", 1, fail).pub("m1", "k", 1, ok).consume("g", "m1")
		}},
		{name: "never published", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).consume("g", "m1").consume("g", "ghost")
		}, want: [][]int64{{4}}, summary: "message ghost was delivered to group g but was never published"},
		{name: "publish failed", build: func(b *hb) {
			b.pub("m1", "k", 1, fail).consume("g", "m1").consume("g2", "m1")
		}, want: [][]int64{{0, 1, 2}}, summary: "but its publish failed"},
		{name: "delivered before published", build: func(b *hb) {
			b.deliver("g", "m1", 1).pub("m1", "k", 1, ok).ack("g", "m1")
		}, want: [][]int64{{0, 1}}, summary: "before it was published"},
	})
}

func TestOrder(t *testing.T) {
	c := NewOrder(OrderOptions{})
	runCases(t, c, []checkCase{
		{name: "clean: in order", build: func(b *hb) {
			b.pub("a1", "a", 1, ok).pub("a2", "a", 2, ok).consume("g", "a1").consume("g", "a2")
		}},
		{name: "clean: keys interleave independently", build: func(b *hb) {
			b.pub("a1", "a", 1, ok).pub("b1", "b", 1, ok).pub("a2", "a", 2, ok).
				consume("g", "a2").consume("g", "b1").consume("g2", "a1").consume("g2", "a2")
		}, want: nil},
		{name: "clean: redelivery after nack follows a later ack", build: func(b *hb) {
			b.pub("a1", "a", 1, ok).pub("a2", "a", 2, ok).
				deliver("g", "a1", 1).nack("g", "a1").consume("g", "a2").deliver("g", "a1", 2).ack("g", "a1")
		}},
		{name: "clean: ops without seq ignored", build: func(b *hb) {
			b.pub("a1", "a", 0, ok).pub("a2", "a", 2, ok).consume("g", "a2").consume("g", "a1")
		}},
		{name: "skip: acked 2 before 1 was ever delivered", build: func(b *hb) {
			b.pub("a1", "a", 1, ok).pub("a2", "a", 2, ok).consume("g", "a2").consume("g", "a1")
		}, want: [][]int64{{1, 2, 4, 5, 6}}, summary: "skip: group g got key a seq 1 (message a1) first after acking seq 2 (message a2)"},
		{name: "regression: overlapping publishes", build: func(b *hb) {
			b.invoke("a1", "a", 1).invoke("a2", "a", 2).done("a2", ok).done("a1", ok).
				consume("g", "a2").consume("g", "a1")
		}, want: [][]int64{{1, 3, 4, 5, 6}}, summary: "regression:"},
		{name: "two regressions in one stream", build: func(b *hb) {
			b.pub("a1", "a", 1, ok).pub("a2", "a", 2, ok).pub("a3", "a", 3, ok).
				consume("g", "a3").consume("g", "a1").consume("g", "a2")
		}, want: [][]int64{{1, 4, 6, 7, 8}, {3, 4, 6, 7, 10}}},
	})
}

// TestOrderPerProducer runs each history under the three producer modes:
// per key (today's default), per (key, publishing process) and per (key,
// stamped producer).
func TestOrderPerProducer(t *testing.T) {
	type want struct {
		witnesses [][]int64
		summary   string
		note      string
	}
	modes := []ProducerSource{SingleProducer, ProducerFromProcess, ProducerFromStamp}
	names := []string{"per-key", "per-process", "per-stamp"}
	tests := []struct {
		name  string
		build func(b *hb)
		want  [3]want // per mode, in the order of modes
	}{
		{name: "clean: one producer in order", build: func(b *hb) {
			b.by("s1", "s1").pub("a1", "a", 1, ok).pub("a2", "a", 2, ok).pub("a3", "a", 3, ok).
				consume("g", "a1").consume("g", "a2").consume("g", "a3")
		}},
		{name: "two producers interleave, each in its own order", build: func(b *hb) {
			b.by("s1", "s1").pub("x1", "a", 1, ok).pub("x2", "a", 2, ok).
				by("s2", "s2").pub("y1", "a", 1, ok).
				by("s1", "s1").pub("x3", "a", 3, ok).
				by("s2", "s2").pub("y2", "a", 2, ok).
				consume("g", "x1").consume("g", "x2").consume("g", "y1").consume("g", "x3").consume("g", "y2")
		}, want: [3]want{
			{witnesses: [][]int64{{2, 5, 12, 13, 14}, {6, 9, 16, 17, 18}},
				summary: "regression: group g got key a seq 1 (message y1) first after acking seq 2 (message x2)"},
		}},
		{name: "one session relays two stamped producers", build: func(b *hb) {
			b.by("relay", "orders").pub("x1", "a", 1, ok).pub("x2", "a", 2, ok).
				by("relay", "billing").pub("y1", "a", 1, ok).
				consume("g", "x1").consume("g", "x2").consume("g", "y1")
		}, want: [3]want{
			{witnesses: [][]int64{{2, 5, 8, 9, 10}}},
			{witnesses: [][]int64{{2, 5, 8, 9, 10}}, summary: "both from producer relay"},
		}},
		{name: "one producer's own sequence goes backwards", build: func(b *hb) {
			b.by("s1", "s1").pub("x1", "a", 1, ok).pub("x2", "a", 2, ok).
				by("s2", "s2").pub("y1", "a", 1, ok).
				consume("g", "x2").consume("g", "y1").consume("g", "x1")
		}, want: [3]want{
			{witnesses: [][]int64{{2, 5, 6, 7, 8}, {1, 2, 6, 7, 10}}},
			{witnesses: [][]int64{{1, 2, 6, 7, 10}},
				summary: "skip: group g got key a seq 1 (message x1) first after acking seq 2 (message x2), both from producer s1"},
			{witnesses: [][]int64{{1, 2, 6, 7, 10}}, summary: "both from producer s1"},
		}},
		// Per key, x1 is judged against s2's y5, published after x1
		// completed: a skip. Per producer, against s1's x2, whose publish
		// overlapped x1's: a regression.
		{name: "skip or regression is judged within the producer", build: func(b *hb) {
			b.by("s1", "s1").invoke("x1", "a", 1).invoke("x2", "a", 2).done("x2", ok).done("x1", ok).
				by("s2", "s2").pub("y5", "a", 5, ok).
				consume("g", "x2").consume("g", "y5").consume("g", "x1")
		}, want: [3]want{
			{witnesses: [][]int64{{3, 4, 8, 9, 10}}, summary: "skip: group g got key a seq 1 (message x1) first after acking seq 5 (message y5)"},
			{witnesses: [][]int64{{1, 3, 6, 7, 10}}, summary: "regression: group g got key a seq 1 (message x1) first after acking seq 2 (message x2), both from producer s1"},
			{witnesses: [][]int64{{1, 3, 6, 7, 10}}, summary: "regression:"},
		}},
		{name: "messages without a producer are not judged", build: func(b *hb) {
			b.by("", "").pub("x1", "a", 1, ok).pub("x2", "a", 2, ok).consume("g", "x2").consume("g", "x1")
		}, want: [3]want{
			{witnesses: [][]int64{{1, 2, 4, 5, 6}}, summary: "skip:"},
			{note: "2 consumed message(s) with a seq but no producer not judged"},
			{note: "2 consumed message(s) with a seq but no producer not judged"},
		}},
	}
	for i, mode := range modes {
		t.Run(names[i], func(t *testing.T) {
			var cases []checkCase
			for _, tt := range tests {
				w := tt.want[i]
				cases = append(cases, checkCase{name: tt.name, build: tt.build, want: w.witnesses, summary: w.summary, note: w.note})
			}
			runCases(t, NewOrder(OrderOptions{PerProducer: mode}), cases)
		})
	}
	t.Run("per-key summary names no producer", func(t *testing.T) {
		b := newHB()
		tests[3].build(b)
		for _, a := range NewOrder(OrderOptions{}).Check(b.ops).Anomalies {
			if strings.Contains(a.Summary, "producer") {
				t.Errorf("summary %q names a producer", a.Summary)
			}
		}
	})
}

func TestDuplicateDelivery(t *testing.T) {
	c := NewDuplicateDelivery(DuplicateDeliveryOptions{})
	dupes := func(b *hb) {
		b.pub("m1", "k", 1, ok).consume("g", "m1").deliver("g", "m1", 2).ack("g", "m1").deliver("g", "m1", 3)
	}
	runCases(t, c, []checkCase{
		{name: "clean: once", build: func(b *hb) { b.pub("m1", "k", 1, ok).consume("g", "m1").consume("g2", "m1") }},
		{name: "clean: redelivery after nack", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).deliver("g", "m1", 1).nack("g", "m1").deliver("g", "m1", 2).ack("g", "m1")
		}},
		{name: "clean: redelivery before settlement", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).deliver("g", "m1", 1).deliver("g", "m1", 2).ack("g", "m1")
		}},
		{name: "delivered after ack", build: dupes, want: [][]int64{{2, 3, 4}},
			summary: "message m1 was delivered to group g 2 more time(s) after it was acked"},
	})
	t.Run("permitted", func(t *testing.T) {
		b := newHB()
		dupes(b)
		r := NewDuplicateDelivery(DuplicateDeliveryOptions{Permitted: true}).Check(b.ops)
		if !r.Valid || !r.Permitted || len(r.Anomalies) != 1 {
			t.Fatalf("got Valid=%v Permitted=%v anomalies=%d, want true true 1", r.Valid, r.Permitted, len(r.Anomalies))
		}
	})
}

func TestDuplicateEffect(t *testing.T) {
	c := NewDuplicateEffect(DuplicateEffectOptions{})
	runCases(t, c, []checkCase{
		{name: "clean: one effect per message despite redelivery", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).deliver("g", "m1", 1).effect("g", "m1", "charge").nack("g", "m1").
				deliver("g", "m1", 2).ack("g", "m1")
		}},
		{name: "clean: different effects, groups and messages", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).pub("m2", "k", 2, ok).
				deliver("g", "m1", 1).effect("g", "m1", "charge").effect("g", "m1", "email").ack("g", "m1").
				deliver("g2", "m1", 1).effect("g2", "m1", "charge").ack("g2", "m1").
				deliver("g", "m2", 1).effect("g", "m2", "charge").ack("g", "m2")
		}},
		{name: "effect ran twice over redelivery", build: func(b *hb) {
			b.pub("cmd-17", "k", 1, ok).deliver("payment-service", "cmd-17", 1).effect("payment-service", "cmd-17", "charge-payment").
				nack("payment-service", "cmd-17").deliver("payment-service", "cmd-17", 2).
				effect("payment-service", "cmd-17", "email").effect("payment-service", "cmd-17", "charge-payment").
				ack("payment-service", "cmd-17")
		}, want: [][]int64{{2, 3, 5, 7}}, summary: `effect "charge-payment" of message cmd-17 ran 2 times in group payment-service`},
		{name: "three runs, witness has all", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).deliver("g", "m1", 1).effect("g", "m1", "x").effect("g", "m1", "x").
				deliver("g", "m1", 2).effect("g", "m1", "x")
		}, want: [][]int64{{2, 3, 4, 5, 6}}, summary: "ran 3 times"},
	})
}

func TestDLQAccounting(t *testing.T) {
	c := NewDLQAccounting(DLQAccountingOptions{})
	runCases(t, c, []checkCase{
		{name: "clean: processed and dead-lettered", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).pub("m2", "k", 2, ok).consume("g", "m1").
				deliver("g", "m2", 1).nack("g", "m2").deliver("g", "m2", 2).dead("g", "m2", "poison", 2)
		}},
		{name: "clean: undelivered messages are not counted", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).pub("m2", "k", 2, info)
		}},
		{name: "both acked and dead-lettered", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).consume("g", "m1").dead("g", "m1", "late", 1)
		}, want: [][]int64{{3, 4}}, summary: "message m1 in group g was both acked and dead-lettered"},
		{name: "unsettled", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).deliver("g", "m1", 1).nack("g", "m1").deliver("g", "m1", 2)
		}, want: [][]int64{{4}}, summary: "never acked or dead-lettered"},
		{name: "dead letter without reason", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).deliver("g", "m1", 1).dead("g", "m1", "", 1)
		}, want: [][]int64{{3}}, summary: "without a reason"},
		{name: "dead letter without attempt", build: func(b *hb) {
			b.pub("m1", "k", 1, ok).deliver("g", "m1", 1).dead("g", "m1", "poison", 0)
		}, want: [][]int64{{3}}, summary: `attempt 0`},
	})
	t.Run("note balances", func(t *testing.T) {
		b := newHB()
		for _, id := range []string{"m1", "m2", "m3", "m4"} {
			b.pub(id, "k", 0, ok)
		}
		b.consume("g", "m1").consume("g", "m2").deliver("g", "m3", 1).dead("g", "m3", "poison", 1).deliver("g", "m4", 1)
		b.consume("a", "m1")
		r := c.Check(b.ops)
		want := "1 anomaly; group a: 1 = 1 processed + 0 dead-lettered; group g: 4 = 2 processed + 1 dead-lettered + 1 unsettled"
		if r.Note != want || r.Checked != 5 || r.Valid {
			t.Fatalf("Note = %q Checked = %d Valid = %v, want %q 5 false", r.Note, r.Checked, r.Valid, want)
		}
	})
}

func TestCapAndCount(t *testing.T) {
	b := newHB()
	ids := []string{}
	for i := range 30 {
		id := "m" + string(rune('A'+i))
		ids = append(ids, id)
		b.pub(id, "k", 0, ok)
	}
	_ = ids
	r := NewLoss(LossOptions{Groups: map[string][]string{"t": {"g"}}, MaxAnomalies: 5}).Check(b.ops)
	if len(r.Anomalies) != 5 || r.Note != "30 anomalies, 25 not listed" || r.Checked != 30 {
		t.Fatalf("anomalies=%d note=%q checked=%d", len(r.Anomalies), r.Note, r.Checked)
	}
	// The earliest anomalies are the ones listed.
	if r.Anomalies[0].Witness[0].Index != 0 || r.Anomalies[4].Witness[0].Index != 8 {
		t.Fatalf("listed anomalies are not the earliest: %v .. %v", r.Anomalies[0].Witness, r.Anomalies[4].Witness)
	}
}

func TestRunAndValid(t *testing.T) {
	b := newHB()
	b.pub("m1", "k", 1, ok).consume("g", "m1").deliver("g", "m1", 2)
	rs := Run(b.ops,
		NewLoss(LossOptions{Groups: map[string][]string{"t": {"g"}}}),
		NewDuplicateDelivery(DuplicateDeliveryOptions{Permitted: true}),
	)
	if len(rs) != 2 || !Valid(rs) || !rs[1].Permitted {
		t.Fatalf("Run = %+v, want two valid results, the second permitted", rs)
	}
	rs = Run(b.ops, NewDuplicateDelivery(DuplicateDeliveryOptions{}))
	if Valid(rs) {
		t.Fatalf("Valid = true for an unpermitted duplicate: %+v", rs)
	}
}

// TestManyGroups exercises the sparse (map) pair index used when groups
// are many relative to the history.
func TestManyGroups(t *testing.T) {
	b := newHB()
	var groups []string
	for i := range 40 {
		g := fmt.Sprintf("g%d", i)
		groups = append(groups, g)
		id := fmt.Sprintf("m%d", i)
		b.pub(id, "k", 0, ok)
		if i > 0 {
			b.consume(g, id)
		}
	}
	if ix := newIndex(b.ops); ix.dense {
		t.Fatalf("index is dense with %d groups and %d ops; the test wants the sparse path", len(ix.groups), len(b.ops))
	}
	r := NewLoss(LossOptions{Groups: map[string][]string{"t": groups}}).Check(b.ops)
	// Each message is acked by one group only; every other group lost it.
	if want := 40*40 - 39; len(r.Anomalies) != DefaultMaxAnomalies || r.Note != fmt.Sprintf("%d anomalies, %d not listed", want, want-DefaultMaxAnomalies) {
		t.Fatalf("got %d anomalies, note %q", len(r.Anomalies), r.Note)
	}
	r = NewDLQAccounting(DLQAccountingOptions{}).Check(b.ops)
	if !r.Valid || r.Checked != 39 {
		t.Fatalf("DLQ accounting over sparse index: %+v", r)
	}
}
