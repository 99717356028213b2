package blackbox

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/blackbox/asyncapi"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/reference/bus"
)

// The black-box invariants, as reports and JUnit name them.
const (
	InvOutputForEveryInput = "output-for-every-input"
	InvNoDuplicateOutput   = "no-duplicate-output"
	InvNoPhantomOutput     = "no-phantom-output"
	InvPerKeyOutputOrder   = "per-key-output-order"
	InvOutputsMatch        = "outputs-match"
)

// ledger correlates outputs with inputs while the run goes on and judges
// them as it goes, so that what it holds is bounded by the inputs in flight
// (rate × the longest wait), never by the run's length: an input leaves it
// when its outputs are in or its deadline passed, and is remembered a
// while longer (two generations of retain) to tell a late duplicate from
// a phantom.
type ledger struct {
	mu      sync.Mutex
	w       *Workload
	start   time.Time
	pending map[string]*entry
	queue   []*entry // in send order: the sweep looks at its head
	head    int
	recent  generations
	// last is, per ordered topic and key, the publish sequence of the
	// latest input whose output came.
	last    map[string]map[string]uint64
	visible *loadgen.Tracker
	settled *loadgen.Tracker
	// foreignTo, when set, is the prefix of every correlation value this
	// run made (header correlation): an output with another one answers
	// another run on the same broker, and is counted, not judged.
	foreignTo string

	inv                             map[string]*verdict
	sent, answered, late, foreign   int
	unknown, expiredUnknown, checks int
}

// entry is one input in flight.
type entry struct {
	corr, input, topic, key, msgID string
	seq                            uint64 // the key's publish sequence
	intended, sent                 time.Time
	wants                          []want
	remaining                      int
	// unknown is an input whose publish had an unknown outcome: the broker
	// may not have it, so a missing output is not a loss.
	unknown bool
	closed  bool
}

type want struct {
	e    *Expect
	seen int
}

func (e *entry) deadline() time.Time {
	var d time.Duration
	for _, w := range e.wants {
		d = max(d, w.e.Within)
	}
	return e.intended.Add(d)
}

func newLedger(w *Workload, start time.Time, visible, settled *loadgen.Tracker) *ledger {
	l := &ledger{
		w: w, start: start, pending: map[string]*entry{}, last: map[string]map[string]uint64{},
		visible: visible, settled: settled, inv: map[string]*verdict{},
	}
	l.recent.retain = max(2*w.longestWithin(), time.Second)
	l.recent.rotated = start
	for _, name := range []string{InvOutputForEveryInput, InvNoDuplicateOutput, InvNoPhantomOutput, InvPerKeyOutputOrder, InvOutputsMatch} {
		l.inv[name] = &verdict{}
	}
	return l
}

// sent registers an input about to be published. It refuses a correlation
// value already in flight: the outputs could not be told apart.
func (l *ledger) add(e *entry, in *Input) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.pending[e.corr]; dup {
		return fmt.Errorf("input %s: correlation value %q is already in flight: the workload must make each input's unique", in.Name, e.corr)
	}
	e.wants = make([]want, len(in.Expect))
	for i := range in.Expect {
		e.wants[i].e = &in.Expect[i]
	}
	e.remaining = len(e.wants)
	l.sent++
	if e.remaining == 0 {
		return nil
	}
	l.pending[e.corr] = e
	l.queue = append(l.queue, e)
	l.visible.Start(e.corr, e.intended)
	l.settled.Start(e.corr, e.intended)
	return nil
}

// published settles the input's publish: a refused publish leaves the
// ledger; one of unknown outcome stays, marked.
func (l *ledger) published(e *entry, err error, unknown bool) {
	if err == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if unknown {
		e.unknown = true
		return
	}
	l.sent--
	l.close(e)
}

// close takes e out of the pending set (it stays in the queue until the
// sweep reaches it) and the trackers.
func (l *ledger) close(e *entry) {
	if e.closed {
		return
	}
	e.closed = true
	delete(l.pending, e.corr)
	l.recent.put(e.corr, e)
	if e.remaining > 0 {
		l.visible.Forget(e.corr)
		l.settled.Forget(e.corr)
	}
}

// observe correlates one output delivered on topic at at.
func (l *ledger) observe(topic string, m *bus.Message, corr string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checks++
	out := l.outputOp(topic, m, corr, at)
	if o := l.w.output(topic); o != nil && len(o.Contract) > 0 {
		if err := meets(o.Contract, m.Payload); err != nil {
			l.flag(InvOutputsMatch, at, fmt.Sprintf("output %s on %s breaks the AsyncAPI contract: %v", m.ID, topic, err), out)
		}
	}
	if corr == "" {
		l.flag(InvNoPhantomOutput, at, fmt.Sprintf("output %s on %s carries no correlation value", m.ID, topic), out)
		return
	}
	e := l.pending[corr]
	if e == nil {
		e = l.recent.get(corr)
	}
	if e == nil && l.foreignTo != "" && !strings.HasPrefix(corr, l.foreignTo) {
		l.foreign++ // another run's, on a broker runs share
		return
	}
	if e == nil {
		l.flag(InvNoPhantomOutput, at, fmt.Sprintf("output %s on %s answers no input of this run (correlation %q)", m.ID, topic, corr), out)
		return
	}
	w := e.want(topic)
	switch {
	case w == nil:
		l.flag(InvNoPhantomOutput, at, fmt.Sprintf("output %s on %s answers input %s (%s), which expects nothing there", m.ID, topic, e.msgID, e.input), l.inputOp(e), out)
	case w.seen > 0:
		w.seen++
		l.flag(InvNoDuplicateOutput, at, fmt.Sprintf("input %s (%s, key %s) answered again on %s by %s (output %d)", e.msgID, e.input, e.key, topic, m.ID, w.seen), l.inputOp(e), out)
	case e.closed:
		w.seen++
		l.late++ // already judged lost at its deadline: counted there
	default:
		w.seen++
		l.first(e, w, topic, m, out, at)
	}
}

func (e *entry) want(topic string) *want {
	for i := range e.wants {
		if e.wants[i].e.Topic == topic {
			return &e.wants[i]
		}
	}
	return nil
}

// first judges the first output of e on topic: its payload, its order
// among its key's, and whether e is now answered.
func (l *ledger) first(e *entry, w *want, topic string, m *bus.Message, out history.Op, at time.Time) {
	if w.e.Match != nil {
		if err := w.e.Match.Check(m.Payload); err != nil {
			l.flag(InvOutputsMatch, at, fmt.Sprintf("output %s on %s for input %s (%s): %v", m.ID, topic, e.msgID, e.input, err), l.inputOp(e), out)
		}
	}
	if o := l.w.output(topic); o != nil && o.Order {
		l.order(e, topic, out, at)
	}
	if e.remaining == len(e.wants) {
		l.visible.Done(e.corr, at)
	}
	e.remaining--
	if e.remaining == 0 {
		l.settled.Done(e.corr, at)
		l.answered++
		e.closed = true
		delete(l.pending, e.corr)
		l.recent.put(e.corr, e)
	}
}

func (l *ledger) order(e *entry, topic string, out history.Op, at time.Time) {
	byKey := l.last[topic]
	if byKey == nil {
		byKey = map[string]uint64{}
		l.last[topic] = byKey
	}
	if prev := byKey[e.key]; e.seq < prev {
		l.flag(InvPerKeyOutputOrder, at, fmt.Sprintf("key %s: the output on %s for input #%d of the key came after the output for input #%d", e.key, topic, e.seq, prev), l.inputOp(e), out)
		return
	}
	byKey[e.key] = e.seq
}

// sweep judges the inputs whose deadline passed by now, in send order.
func (l *ledger) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.head < len(l.queue) {
		e := l.queue[l.head]
		if !e.closed && now.Before(e.deadline()) {
			break
		}
		if !e.closed {
			l.expire(e, now)
		}
		l.queue[l.head] = nil
		l.head++
	}
	if l.head > 1024 && l.head*2 > len(l.queue) {
		l.queue = append(l.queue[:0], l.queue[l.head:]...)
		l.head = 0
	}
	l.recent.rotate(now)
}

// expire judges e at its deadline: each expected output that has not come
// is lost, unless the publish itself had an unknown outcome.
func (l *ledger) expire(e *entry, now time.Time) {
	if e.unknown {
		l.expiredUnknown++
		l.close(e)
		return
	}
	for _, w := range e.wants {
		if w.seen == 0 {
			at := e.intended.Add(w.e.Within)
			l.flag(InvOutputForEveryInput, at, fmt.Sprintf("input %s (%s, key %s): no output on %s within %s", e.msgID, e.input, e.key, w.e.Topic, w.e.Within), l.inputOp(e))
		}
	}
	l.close(e)
}

// idle says no input waits for an output any more.
func (l *ledger) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending) == 0
}

func (l *ledger) flag(inv string, at time.Time, summary string, witness ...history.Op) {
	l.inv[inv].add(check.Anomaly{Invariant: inv, Summary: summary, Witness: witness, At: at.Sub(l.start)})
}

// inputOp is the publish of e, as a witness.
func (l *ledger) inputOp(e *entry) history.Op {
	return history.Op{Index: -1, Time: e.sent.Sub(l.start), Process: "edkit", Type: history.OK, F: history.Publish,
		Topic: e.topic, Key: e.key, MsgID: e.msgID, Seq: int64(e.seq), Value: "correlation " + e.corr}
}

// outputOp is an output's delivery to edkit's tap, as a witness.
func (l *ledger) outputOp(topic string, m *bus.Message, corr string, at time.Time) history.Op {
	return history.Op{Index: -1, Time: at.Sub(l.start), Process: "edkit-tap", Type: history.OK, F: history.Deliver,
		Topic: topic, Key: m.Key, MsgID: m.ID, Value: "correlation " + corr}
}

// verdict is one invariant's anomalies: the earliest maxListed kept, all
// counted.
type verdict struct {
	found int
	list  []check.Anomaly
}

// maxListed is how many anomalies an invariant lists.
const maxListed = check.DefaultMaxAnomalies

func (v *verdict) add(a check.Anomaly) {
	v.found++
	if len(v.list) < maxListed {
		v.list = append(v.list, a)
	}
}

// generations remember closed entries for between retain and twice that.
type generations struct {
	retain    time.Duration
	rotated   time.Time
	cur, prev map[string]*entry
}

func (g *generations) put(corr string, e *entry) {
	if g.cur == nil {
		g.cur = map[string]*entry{}
	}
	g.cur[corr] = e
}

func (g *generations) get(corr string) *entry {
	if e, ok := g.cur[corr]; ok {
		return e
	}
	return g.prev[corr]
}

func (g *generations) rotate(now time.Time) {
	if now.Sub(g.rotated) < g.retain {
		return
	}
	g.prev, g.cur, g.rotated = g.cur, nil, now
}

// results judges what is left at the end and returns the verdicts. With
// settled false the run stopped waiting: inputs still within their
// deadline are unsettled, not lost.
func (l *ledger) results(now time.Time, duplicatesAllowed bool) []check.Result {
	l.sweep(now)
	l.mu.Lock()
	defer l.mu.Unlock()
	unsettled := 0
	for _, e := range l.pending {
		unsettled++
		l.flag(InvOutputForEveryInput, now, fmt.Sprintf("input %s (%s, key %s): still waiting for its outputs when the run ended, %s before its deadline", e.msgID, e.input, e.key, e.deadline().Sub(now).Round(time.Millisecond)), l.inputOp(e))
	}
	names := make([]string, 0, len(l.inv))
	for n := range l.inv {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]check.Result, 0, len(names))
	for _, n := range names {
		v := l.inv[n]
		r := check.Result{Invariant: n, Valid: v.found == 0, Checked: l.checked(n), Anomalies: v.list, Found: v.found}
		if n == InvNoDuplicateOutput && duplicatesAllowed && v.found > 0 {
			r.Valid, r.Permitted = true, true
		}
		r.Note = l.note(n, unsettled)
		out = append(out, r)
	}
	return out
}

func (l *ledger) checked(inv string) int {
	if inv == InvOutputForEveryInput {
		return l.sent
	}
	return l.checks
}

func (l *ledger) note(inv string, unsettled int) string {
	if inv != InvOutputForEveryInput {
		return ""
	}
	s := fmt.Sprintf("%d inputs sent, %d answered in full", l.sent, l.answered)
	if l.late > 0 {
		s += fmt.Sprintf("; %d outputs came after their input's deadline (judged lost then)", l.late)
	}
	if l.expiredUnknown > 0 {
		s += fmt.Sprintf("; %d inputs of unknown publish outcome went unanswered (not judged: the broker may never have had them)", l.expiredUnknown)
	}
	if unsettled > 0 {
		s += fmt.Sprintf("; %d still within their deadline when the run ended", unsettled)
	}
	return s
}

// meets says whether payload meets one of the contract's messages, and if
// none, why not the first.
func meets(contract []asyncapi.Message, payload []byte) error {
	var first error
	for _, m := range contract {
		err := asyncapi.Validate(m, payload)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}
