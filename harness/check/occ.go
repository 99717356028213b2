package check

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/edkit-dev/edkit/harness/history"
)

// InvOptimisticConcurrency names invariant 11 of DESIGN.md: one winner per
// expected version, and an append that succeeded landed where it expected.
const InvOptimisticConcurrency = "optimistic-concurrency"

// OptimisticConcurrency checks InvOptimisticConcurrency over event-store
// appends (history.Append): on each stream, no two appends that both
// succeeded expected the same exact version ("no-stream" is version 0),
// unless they are one append retried — the same first event ID and event
// count — which the store contract answers with the earlier result instead
// of writing twice. It also flags an append with an exact expectation whose
// ok reports a version other than expected plus its event count: a store
// that ignored the expectation. Appends expecting "any" or "exists" promise
// no single winner and are only counted. One anomaly per losing writer.
func OptimisticConcurrency() Checker { return occ{} }

// occ is the OptimisticConcurrency checker.
type occ struct{}

var _ Checker = occ{}

// Name returns InvOptimisticConcurrency.
func (occ) Name() string { return InvOptimisticConcurrency }

// Check judges ops.
func (occ) Check(ops []history.Op) Result {
	col := newCollector(DefaultMaxAnomalies)
	checked := 0
	// winners holds, per stream and expected version, the distinct appends
	// that succeeded there; the first is the rightful winner.
	winners := make(map[occSlot][]storeOp)
	for _, so := range pairStoreOps(ops) {
		if !so.completed() || ops[so.inv].F != history.Append || ops[so.done].Type != history.OK {
			continue
		}
		checked++
		inv, done := &ops[so.inv], &ops[so.done]
		exp := parseExpected(inv.Value)
		if exp.kind != expExact {
			continue
		}
		if want := exp.n + appendCount(inv); done.Seq != want && col.wants(done.Time) {
			col.add(Anomaly{
				Invariant: InvOptimisticConcurrency,
				Summary: fmt.Sprintf("stream %s: append by %s expecting %s with %d event(s) succeeded at version %d, not %d: the store ignored the expectation",
					inv.Key, inv.Process, expectedText(inv.Value), appendCount(inv), done.Seq, want),
				Witness: []history.Op{*inv, *done},
				At:      done.Time,
			})
		}
		slot := occSlot{inv.Key, exp.n}
		ws := winners[slot]
		if retriesAny(ops, ws, so) {
			continue
		}
		winners[slot] = append(ws, so)
		if len(ws) > 0 && col.wants(done.Time) {
			col.add(secondWinner(ops, ws[0], so))
		}
	}
	return col.result(InvOptimisticConcurrency, checked, false, "")
}

// occSlot is one stream's expected version.
type occSlot struct {
	stream  string
	version int64
}

// retriesAny reports whether so repeats one of the appends ws: the same
// first event ID (known) and the same number of events.
func retriesAny(ops []history.Op, ws []storeOp, so storeOp) bool {
	inv := &ops[so.inv]
	for _, w := range ws {
		prev := &ops[w.inv]
		if inv.MsgID != "" && prev.MsgID == inv.MsgID && appendCount(prev) == appendCount(inv) {
			return true
		}
	}
	return false
}

// secondWinner is the anomaly of loser succeeding where first already had.
func secondWinner(ops []history.Op, first, loser storeOp) Anomaly {
	a, b := &ops[first.inv], &ops[loser.inv]
	return Anomaly{
		Invariant: InvOptimisticConcurrency,
		Summary: fmt.Sprintf("stream %s: two appends both succeeded expecting %s: %s (first event %s) and %s (first event %s)",
			a.Key, expectedText(b.Value), a.Process, a.MsgID, b.Process, b.MsgID),
		Witness: witnessAt(ops, first.inv, first.done, loser.inv, loser.done),
		At:      ops[loser.done].Time,
	}
}

// witnessAt copies the ops at positions pos, in history order.
func witnessAt(ops []history.Op, pos ...int) []history.Op {
	sort.Ints(pos)
	out := make([]history.Op, 0, len(pos))
	for _, p := range pos {
		if p != none {
			out = append(out, ops[p])
		}
	}
	return out
}

// storeOp is one event-store operation (an append or a read): the
// positions of its invoke and of its completion, none when the history
// ended with the operation still in flight.
type storeOp struct {
	inv, done int
}

func (s storeOp) completed() bool { return s.done != none }

// pairStoreOps matches each append and read invoke with the next
// completion recorded by the same process, as Jepsen does: a process has
// one operation in flight at a time, so an invoke that follows another
// without a completion leaves the first in flight forever (unknown
// outcome). Completions without an invoke say nothing about what was
// expected and are skipped. The result is in invoke order.
func pairStoreOps(ops []history.Op) []storeOp {
	pending := make(map[string]int)
	var out []storeOp
	for i := range ops {
		op := &ops[i]
		if op.F != history.Append && op.F != history.Read {
			continue
		}
		p, inFlight := pending[op.Process]
		switch {
		case op.Type == history.Invoke:
			if inFlight {
				out = append(out, storeOp{p, none})
			}
			pending[op.Process] = i
		case inFlight && ops[p].F == op.F:
			out = append(out, storeOp{p, i})
			delete(pending, op.Process)
		}
	}
	for _, p := range pending {
		out = append(out, storeOp{p, none})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].inv < out[j].inv })
	return out
}

// expKind is the kind of an append's expected version.
type expKind uint8

const (
	expAny expKind = iota
	expExists
	expExact // including no-stream, which is exactly version 0
)

// expectation is an append's expected version, parsed from its invoke.
type expectation struct {
	kind expKind
	n    int64 // for expExact
}

// parseExpected reads history.Append's Value. Anything it cannot read is
// "any", the expectation that promises nothing, so an odd recorder never
// makes a checker cry wolf.
func parseExpected(v string) expectation {
	switch v {
	case "no-stream":
		return expectation{kind: expExact}
	case "exists", "stream-exists":
		return expectation{kind: expExists}
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return expectation{kind: expExact, n: n}
	}
	return expectation{kind: expAny}
}

// expectedText names an expected version in a summary.
func expectedText(v string) string {
	if v == "no-stream" {
		return "no stream (version 0)"
	}
	return "version " + v
}

// appendCount is the number of events an append invoke carries: at least
// one, since the store refuses an empty append.
func appendCount(inv *history.Op) int64 { return max(inv.Seq, 1) }
