package check

import (
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/history"
)

// buggyHistory is benchHistory with every kind of anomaly the package's
// checkers judge, spread over the run: lost acks, phantoms, order
// regressions, duplicate deliveries and effects, messages both acked and
// dead-lettered.
func buggyHistory(n int) []history.Op {
	ops := benchHistory(n)
	out := make([]history.Op, 0, len(ops)+len(ops)/50)
	add := func(op history.Op) {
		op.Index = int64(len(out))
		op.Time = time.Duration(len(out)) * time.Microsecond
		out = append(out, op)
	}
	for i, op := range ops {
		switch {
		case op.F == history.Ack && i%701 == 0:
			continue // lost: never acked
		case op.F == history.Ack && i%503 == 0:
			add(op)
			d := op
			d.F, d.Attempt = history.Deliver, 2
			add(d) // delivered again after the ack
			e := op
			e.F, e.Value = history.Effect, "charge"
			if op.Group == "billing" {
				add(e) // and its effect ran again
			}
			continue
		case op.F == history.Ack && i%811 == 0:
			add(op)
			d := op
			d.F, d.Value, d.Attempt = history.DeadLetter, "poison", 1
			add(d) // both acked and dead-lettered
			continue
		case op.F == history.Deliver && op.Attempt == 1 && i%907 == 0:
			p := op
			p.MsgID, p.Seq = fmt.Sprintf("ghost-%d", i), 0
			add(p) // a phantom: never published
		case op.F == history.Deliver && op.Attempt == 1 && i%1009 == 0:
			// An order regression: an older message of the key, first
			// delivered after a later one was acked.
			r := op
			r.MsgID, r.Seq = fmt.Sprintf("late-%d", i), 1
			add(history.Op{Process: "producer", Type: history.Invoke, F: history.Publish, Topic: "orders", Key: r.Key, MsgID: r.MsgID, Seq: 1})
			add(history.Op{Process: "producer", Type: history.OK, F: history.Publish, Topic: "orders", Key: r.Key, MsgID: r.MsgID, Seq: 1})
			add(r)
			r.F = history.Ack
			add(r)
		}
		add(op)
	}
	return out
}

// TestRunStreamMatchesRun: however a history is split, RunStream's verdicts
// are Run's — the same anomalies listed, counts and notes.
func TestRunStreamMatchesRun(t *testing.T) {
	ops := buggyHistory(60_000)
	want := Run(ops, allCheckers()...)
	found := 0
	for _, r := range want {
		found += r.Found
		if r.Found == 0 && r.Invariant != InvNoDupDelivery {
			t.Fatalf("the buggy history breaks no %s: the comparison would prove little", r.Invariant)
		}
	}
	for _, maxOps := range []int{len(ops) + 1, 5000, 300} { // in memory, one split, two levels
		t.Run(fmt.Sprint(maxOps), func(t *testing.T) {
			dir := t.TempDir()
			got, err := RunStream(history.NewSlice(ops), StreamOptions{MaxOps: maxOps, TempDir: dir}, allCheckers()...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("%s:\n got %+v\nwant %+v", want[i].Invariant, brief(got[i]), brief(want[i]))
				}
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("left %d partition entries behind", len(left))
			}
		})
	}
	t.Logf("%d ops, %d anomalies", len(ops), found)
}

// TestLossUnsettled: when the run stopped waiting before the system
// settled, unacked messages are unsettled, never lost — also when the
// history is judged in partitions.
func TestLossUnsettled(t *testing.T) {
	ops := buggyHistory(20_000)
	groups := map[string][]string{"orders": {"billing", "shipping"}}
	strict := Run(ops, NewLoss(LossOptions{Groups: groups}))[0]
	if strict.Valid || strict.Found == 0 {
		t.Fatalf("the history loses nothing: %+v", brief(strict))
	}
	c := NewLoss(LossOptions{Groups: groups, Unsettled: true})
	for _, maxOps := range []int{len(ops), 500} {
		got, err := RunStream(history.NewSlice(ops), StreamOptions{MaxOps: maxOps, TempDir: t.TempDir()}, c)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%d message(s) unsettled when the run stopped waiting: not judged as lost", strict.Found)
		if r := got[0]; !r.Valid || r.Found != 0 || r.Note != want {
			t.Errorf("maxOps %d: %s, want valid with note %q", maxOps, brief(r), want)
		}
	}
}

func brief(r Result) string {
	s := fmt.Sprintf("valid=%v checked=%d found=%d listed=%d note=%q", r.Valid, r.Checked, r.Found, len(r.Anomalies), r.Note)
	if len(r.Anomalies) > 0 {
		s += " first=" + r.Anomalies[0].Summary
	}
	return s
}

// countingChecker is a checker of another package's kind: RunStream must
// hand it the whole history.
type countingChecker struct{ n *int }

func (c countingChecker) Name() string { return "count" }
func (c countingChecker) Check(ops []history.Op) Result {
	*c.n = len(ops)
	return Result{Invariant: "count", Valid: true, Checked: len(ops)}
}

func TestRunStreamForeignCheckerSeesWholeHistory(t *testing.T) {
	ops := benchHistory(5000)
	var n int
	res, err := RunStream(history.NewSlice(ops), StreamOptions{MaxOps: 100, TempDir: t.TempDir()}, countingChecker{&n})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ops) || res[0].Checked != len(ops) {
		t.Fatalf("foreign checker saw %d ops, want %d", n, len(ops))
	}
}
