package check

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/edkit-dev/edkit/harness/history"
)

// InvLinearizableStore names the invariant that each stream of an event
// store behaves as one copy of the stream read and written atomically:
// every append's outcome and every read's version fit one order of the
// operations that respects real time.
const InvLinearizableStore = "linearizable-store"

// LinearizableStore checks InvLinearizableStore with porcupine, one stream
// (Key) at a time, over event-store appends and reads (history.Append and
// history.Read). The model of a stream is its version: an append succeeds
// iff its expectation holds (an exact N iff the version is N, "no-stream"
// iff it is 0, "exists" iff it is not, "any" always) and moves the version
// on by its event count; a concurrency conflict (a fail whose Error says
// wrong expected version) means the expectation did not hold. An append
// whose first event ID already landed is a retry: ok with the earlier
// version if its expectation agrees with where it landed, as the store
// contract promises, and no change. A read returns the version.
//
// Other fails surely did not happen and are left out; appends of unknown
// outcome (info, or in flight at the end) may take effect at any time
// after their invoke, or never, as porcupine treats them; reads that did
// not complete ok are left out. Soft deletes are not modelled, so a run
// checked this way must not delete its streams.
//
// The check is NP-hard in the concurrency of a stream: it gives up after
// timeout (none when zero), and a stream it could not decide leaves the
// result Valid with a Note — never a false failure.
func LinearizableStore(timeout time.Duration) Checker { return &linStore{timeout: timeout} }

// linStore is the LinearizableStore checker.
type linStore struct {
	timeout time.Duration
}

var _ Checker = (*linStore)(nil)

// Name returns InvLinearizableStore.
func (*linStore) Name() string { return InvLinearizableStore }

// Check judges ops.
func (c *linStore) Check(ops []history.Op) Result {
	parts, checked := linPartitions(ops)
	c.judge(parts)
	col := newCollector(DefaultMaxAnomalies)
	unknown := 0
	for _, p := range parts {
		switch p.verdict {
		case porcupine.Unknown:
			unknown++
		case porcupine.Illegal:
			w := p.witness(ops)
			at := w[0].Time
			for _, op := range w {
				at = max(at, op.Time)
			}
			if col.wants(at) {
				col.add(Anomaly{Invariant: InvLinearizableStore, Summary: p.summary(ops), Witness: w, At: at})
			}
		}
	}
	note := ""
	if unknown > 0 {
		note = fmt.Sprintf("inconclusive: %d of %d stream(s) not decided within %s (unknown, not judged)",
			unknown, len(parts), c.timeout)
	}
	return col.result(InvLinearizableStore, checked, false, note)
}

// judge runs porcupine over the partitions on every CPU, sharing one
// deadline, and reruns an illegal partition verbosely for its witness.
func (c *linStore) judge(parts []*linPart) {
	var deadline time.Time
	if c.timeout > 0 {
		deadline = time.Now().Add(c.timeout)
	}
	// remaining is porcupine's timeout for the next call: 0 means none to
	// porcupine, so a spent budget is reported as false.
	remaining := func() (time.Duration, bool) {
		if deadline.IsZero() {
			return 0, true
		}
		d := time.Until(deadline)
		return d, d > 0
	}
	work := make(chan *linPart)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(parts)) {
		wg.Go(func() {
			for p := range work {
				p.judge(remaining)
			}
		})
	}
	for _, p := range parts {
		work <- p
	}
	close(work)
	wg.Wait()
}

// linPart is one stream's operations as porcupine sees them, beside the
// history ops they came from (src[i] is ops[i]'s invoke and completion).
type linPart struct {
	stream  string
	ops     []porcupine.Operation
	src     []storeOp
	verdict porcupine.CheckResult
	// longest is the longest linearizable prefix porcupine found, as
	// positions in ops, when located (the verdict is Illegal and the
	// verbose rerun finished in time).
	longest []int
	located bool
}

func (p *linPart) judge(remaining func() (time.Duration, bool)) {
	d, ok := remaining()
	if !ok {
		p.verdict = porcupine.Unknown
		return
	}
	p.verdict = porcupine.CheckOperationsTimeout(linModel, p.ops, d)
	if p.verdict != porcupine.Illegal {
		return
	}
	if d, ok = remaining(); !ok {
		return
	}
	res, info := porcupine.CheckOperationsVerbose(linModel, p.ops, d)
	if res != porcupine.Illegal {
		return
	}
	p.located = true
	// Porcupine returns its partial linearizations in map order: take the
	// longest, the first in order among equals, so the witness is stable.
	for _, l := range info.PartialLinearizations()[0] {
		if len(l) > len(p.longest) || len(l) == len(p.longest) && slices.Compare(l, p.longest) < 0 {
			p.longest = l
		}
	}
}

// linTail and linStuck bound a witness: the last operations of the longest
// linearizable prefix, then the first ones that could not follow it. With
// an invoke and a completion each, that is at most 20 history ops.
const linTail, linStuck = 6, 4

// witness returns the ops around the point where porcupine got stuck, or,
// when it ran out of time before finding that point, the stream's first
// operations.
func (p *linPart) witness(ops []history.Op) []history.Op {
	var pick []int
	if !p.located {
		pick = firstN(len(p.ops), linTail+linStuck)
	} else {
		pick = append(pick, p.longest[max(0, len(p.longest)-linTail):]...)
		pick = append(pick, p.stuck()...)
	}
	var pos []int
	for _, i := range pick {
		pos = append(pos, p.src[i].inv, p.src[i].done)
	}
	return witnessAt(ops, pos...)
}

// stuck returns the operations porcupine could not add to the longest
// linearizable prefix: those not in it that were invoked before the first
// of them returned (any later one had to follow that one), in invoke order.
func (p *linPart) stuck() []int {
	in := make([]bool, len(p.ops))
	for _, i := range p.longest {
		in[i] = true
	}
	firstReturn := int64(math.MaxInt64)
	for i := range p.ops {
		if !in[i] {
			firstReturn = min(firstReturn, p.ops[i].Return)
		}
	}
	var out []int
	for i := range p.ops {
		if !in[i] && p.ops[i].Call <= firstReturn && len(out) < linStuck {
			out = append(out, i)
		}
	}
	return out
}

func firstN(n, limit int) []int {
	out := make([]int, min(n, limit))
	for i := range out {
		out[i] = i
	}
	return out
}

// summary names the stream and what could not be explained.
func (p *linPart) summary(ops []history.Op) string {
	if !p.located {
		return fmt.Sprintf("stream %s: its %d appends and reads cannot be linearized", p.stream, len(p.ops))
	}
	st := linModel.Init()
	for _, i := range p.longest {
		_, st = linModel.Step(st, p.ops[i].Input, p.ops[i].Output)
	}
	var next []string
	for _, i := range p.stuck() {
		next = append(next, describeStoreOp(ops, p.src[i]))
	}
	return fmt.Sprintf("stream %s: not linearizable: after %d of its %d appends and reads (version %d), no order explains %s",
		p.stream, len(p.longest), len(p.ops), st.(linState).version, strings.Join(next, "; "))
}

// describeStoreOp says what one operation did, for summaries.
func describeStoreOp(ops []history.Op, so storeOp) string {
	inv := &ops[so.inv]
	what := fmt.Sprintf("%s read", inv.Process)
	if inv.F == history.Append {
		what = fmt.Sprintf("%s append of %d expecting %s", inv.Process, appendCount(inv), inv.Value)
	}
	if !so.completed() {
		return what + " (in flight)"
	}
	switch done := &ops[so.done]; done.Type {
	case history.OK:
		return fmt.Sprintf("%s ok at version %d", what, done.Seq)
	case history.Fail:
		return what + " refused: " + done.Error
	}
	return what + " (outcome unknown)"
}

// linPartitions turns the history's appends and reads into one porcupine
// history per stream, in the order streams first appear, and counts the
// completed operations that go into them.
func linPartitions(ops []history.Op) ([]*linPart, int) {
	end := int64(0)
	for i := range ops {
		end = max(end, ops[i].Index+1)
	}
	byStream := make(map[string]*linPart)
	var parts []*linPart
	checked := 0
	for _, so := range pairStoreOps(ops) {
		in, out, ret, keep := linOperation(ops, so, end)
		if !keep {
			continue
		}
		if so.completed() {
			checked++
		}
		stream := ops[so.inv].Key
		p := byStream[stream]
		if p == nil {
			p = &linPart{stream: stream}
			byStream[stream] = p
			parts = append(parts, p)
		}
		p.ops = append(p.ops, porcupine.Operation{Input: in, Call: ops[so.inv].Index, Output: out, Return: ret})
		p.src = append(p.src, so)
	}
	for _, p := range parts {
		p.trackRetries(ops)
	}
	return parts, checked
}

// linOperation is porcupine's view of one operation: input, output and
// return time; keep is false for an operation left out of the model.
func linOperation(ops []history.Op, so storeOp, end int64) (in linInput, out linOutput, ret int64, keep bool) {
	inv := &ops[so.inv]
	in = linInput{read: inv.F == history.Read, exp: parseExpected(inv.Value), count: appendCount(inv)}
	if !so.completed() {
		// In flight at the end: unknown, like info. A read has no effect.
		return in, linOutput{kind: outUnknown}, end, !in.read
	}
	done := &ops[so.done]
	switch {
	case done.Type == history.OK:
		return in, linOutput{kind: outOK, version: done.Seq}, done.Index, true
	case in.read:
		return in, out, 0, false
	case done.Type == history.Fail:
		// Only a conflict says something about the stream; any other
		// refusal (a malformed append, a clash of event IDs) did not happen.
		return in, linOutput{kind: outConflict}, done.Index, isConflict(done.Error)
	}
	// Info: the append may take effect at any time after its invoke, so
	// it returns after every other op and accepts either outcome.
	return in, linOutput{kind: outUnknown}, end, true
}

// isConflict reports whether a failed append's Error is a concurrency
// conflict (eventstore.ErrWrongExpectedVersion's text).
func isConflict(msg string) bool { return strings.Contains(msg, "wrong expected version") }

// trackRetries gives the model the first event IDs that more than one
// append of the stream carries: only those can be retries, and leaving the
// rest out keeps the model's states small and comparable.
func (p *linPart) trackRetries(ops []history.Op) {
	seen := make(map[string]int)
	for _, so := range p.src {
		if id := ops[so.inv].MsgID; ops[so.inv].F == history.Append && id != "" {
			seen[id]++
		}
	}
	for i, so := range p.src {
		if id := ops[so.inv].MsgID; seen[id] > 1 && ops[so.inv].F == history.Append {
			in := p.ops[i].Input.(linInput)
			in.id = id
			p.ops[i].Input = in
		}
	}
}

// linInput is an operation's call as the model sees it.
type linInput struct {
	read  bool
	exp   expectation
	count int64
	// id is the first event ID, kept only when another append of the
	// stream repeats it.
	id string
}

// outKind is how an operation completed.
type outKind uint8

const (
	outOK outKind = iota
	outConflict
	outUnknown
)

// linOutput is an operation's completion as the model sees it.
type linOutput struct {
	kind    outKind
	version int64 // for outOK: the version after an append, or read
}

// linState is one stream: its version, and where tracked appends landed.
type linState struct {
	version int64
	landed  *landing
}

// landing is an immutable list of the tracked appends that took effect,
// newest (highest version) first, so that equal sets are equal lists.
type landing struct {
	id          string
	first, last int64
	next        *landing
}

func (l *landing) find(id string) *landing {
	for ; l != nil; l = l.next {
		if l.id == id {
			return l
		}
	}
	return nil
}

func equalLandings(a, b *landing) bool {
	for ; a != nil && b != nil; a, b = a.next, b.next {
		if a == b {
			return true
		}
		if a.id != b.id || a.first != b.first || a.last != b.last {
			return false
		}
	}
	return a == b
}

// holds reports whether the expectation holds at version v.
func (e expectation) holds(v int64) bool {
	switch e.kind {
	case expExists:
		return v > 0
	case expExact:
		return v == e.n
	}
	return true
}

// apply is the append in on s: whether it succeeds, the version it
// reports, and the state after it.
func (s linState) apply(in linInput) (bool, int64, linState) {
	if in.id != "" {
		if l := s.landed.find(in.id); l != nil {
			// A retry: it succeeds, without writing, iff its expectation
			// agrees with where it landed.
			agrees := in.exp.kind != expExact || in.exp.n+1 == l.first
			return agrees, l.last, s
		}
	}
	if !in.exp.holds(s.version) {
		return false, 0, s
	}
	next := linState{version: s.version + in.count, landed: s.landed}
	if in.id != "" {
		next.landed = &landing{id: in.id, first: s.version + 1, last: next.version, next: s.landed}
	}
	return true, next.version, next
}

func linStep(state, input, output any) (bool, any) {
	s, in, out := state.(linState), input.(linInput), output.(linOutput)
	if in.read {
		return out.version == s.version, s
	}
	ok, version, next := s.apply(in)
	switch out.kind {
	case outOK:
		return ok && version == out.version, next
	case outConflict:
		return !ok, s
	}
	return true, next // unknown: either outcome; not happening is next == s
}

// linModel is the per-stream model; Check partitions by stream itself, to
// know which stream failed.
var linModel = porcupine.Model{
	Init: func() any { return linState{} },
	Step: linStep,
	Equal: func(a, b any) bool {
		x, y := a.(linState), b.(linState)
		return x.version == y.version && equalLandings(x.landed, y.landed)
	},
	Hash: func(s any) uint64 { return uint64(s.(linState).version) },
	DescribeOperation: func(input, output any) string {
		return fmt.Sprintf("%+v -> %+v", input, output)
	},
}
