package scenarios

import (
	"fmt"
	"strings"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/history"
)

// historyExpectation judges a `messages:` or `dead-letter:` expectation
// over the recorded history, as a checker beside the run's own: what was
// published and dead-lettered is what edkit observed, not what the system
// says it did.
type historyExpectation struct{ e Expectation }

func (h historyExpectation) Name() string { return expectationName(h.e) }

func (h historyExpectation) Check(ops []history.Op) check.Result {
	res := check.Result{Invariant: h.Name(), Checked: 1, Valid: true}
	var err error
	if h.e.Messages != nil {
		err = messagesErr(ops, h.e.Messages)
	} else {
		err = deadLetterErr(ops, h.e.DeadLetter)
	}
	if err != nil {
		res.Valid, res.Found, res.Note = false, 1, err.Error()
	}
	return res
}

// messagesErr compares the types published on the topic (and key), each
// message once however often its publish was retried, in publish order.
func messagesErr(ops []history.Op, x *MessagesExpectation) error {
	seen := map[string]bool{}
	var got []string
	for _, op := range ops {
		if op.F != history.Publish || op.Type != history.Invoke || op.Topic != x.Topic || (x.Key != "" && op.Key != x.Key) || seen[op.MsgID] {
			continue
		}
		seen[op.MsgID] = true
		got = append(got, op.Value)
	}
	return typesErr("topic "+x.Topic+keyText(x.Key), x.Types, got)
}

func deadLetterErr(ops []history.Op, x *DeadLetterExpectation) error {
	var ids []string
	for _, op := range ops {
		if op.F != history.DeadLetter {
			continue
		}
		if op.MsgID != x.ID {
			ids = append(ids, op.MsgID)
			continue
		}
		if x.Attempts > 0 && op.Attempt != x.Attempts {
			return fmt.Errorf("message %s was dead-lettered after %d attempt(s), want %d", x.ID, op.Attempt, x.Attempts)
		}
		if !strings.Contains(op.Value, x.Reason) {
			return fmt.Errorf("message %s was dead-lettered with reason %s, want one containing %q", x.ID, escape(op.Value), x.Reason)
		}
		return nil
	}
	return fmt.Errorf("message %s was not dead-lettered (dead letters: [%s])", x.ID, strings.Join(quoteAll(ids), ", "))
}

// maxTranscript bounds the ops a failure report lists.
const maxTranscript = 300

// transcript keeps the start of the history for the failure report: the
// message sequence the run saw, from the same history the checkers judged.
type transcript struct {
	ops   []history.Op
	total int
}

func (t *transcript) Name() string { return "scenario transcript" }

func (t *transcript) Check(ops []history.Op) check.Result {
	t.total = len(ops)
	t.ops = append([]history.Op(nil), ops[:min(len(ops), maxTranscript)]...)
	return check.Result{Invariant: t.Name(), Valid: true}
}

// verdict renders what the run found: each expectation and checker, and
// on failure the problems and the message sequence.
func (r *runner) verdict(tr *transcript) *Verdict {
	v := &Verdict{Scenario: r.sc.Name, Passed: len(r.problems) == 0, Results: r.results, Ops: tr.ops, Truncated: tr.total > len(tr.ops)}
	var b strings.Builder
	for _, res := range r.results {
		v.Checked++
		mark := "PASS"
		if !res.Valid {
			mark, v.Passed = "FAIL", false
		}
		// Names, notes and summaries carry IDs from the file, the system
		// and the broker: each is escaped before it is printed.
		fmt.Fprintf(&b, "  %s %s", mark, escape(res.Invariant))
		if res.Note != "" && !res.Valid {
			fmt.Fprintf(&b, ": %s", escape(res.Note))
		}
		for _, a := range res.Anomalies[:min(len(res.Anomalies), 3)] {
			fmt.Fprintf(&b, "\n       %s", escape(a.Summary))
		}
		b.WriteByte('\n')
	}
	for _, p := range r.problems {
		fmt.Fprintf(&b, "  PROBLEM %s\n", escape(p))
	}
	if !v.Passed {
		fmt.Fprintf(&b, "  message sequence (%d ops):\n", tr.total)
		for _, op := range tr.ops {
			fmt.Fprintf(&b, "    %s\n", escape(op.String()))
		}
		if tr.total > len(tr.ops) {
			fmt.Fprintf(&b, "    … %d more\n", tr.total-len(tr.ops))
		}
	}
	v.Report = b.String()
	return v
}
