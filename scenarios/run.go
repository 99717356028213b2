package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// Mode is where and how a scenario runs. The same file runs in each.
type Mode struct {
	// Name names the mode in verdicts ("memory", "kafka", "faults").
	Name   string
	Broker harness.Broker
	// Fault, when set, is injected in front of every consumer: the
	// scenario's expectations must hold under redelivery and delay too.
	Fault *chaos.MessageFaultConfig
}

// The three modes every scenario file runs in.
var (
	// Memory runs on membus: microseconds per message.
	Memory = Mode{Name: "memory", Broker: harness.Broker{Kind: harness.BrokerMemory}}
	// Kafka runs on an embedded Kafka (the real wire protocol, in process),
	// four partitions per topic.
	Kafka = Mode{Name: "kafka", Broker: harness.Broker{Kind: harness.BrokerKafka, Partitions: 4}}
	// Faults runs in memory with a tenth of deliveries duplicated and a
	// tenth delayed by up to 5 ms, from a fixed seed (replayable).
	Faults = Mode{Name: "faults", Broker: harness.Broker{Kind: harness.BrokerMemory},
		Fault: &chaos.MessageFaultConfig{Seed: 1, Duplicate: 0.1, Delay: 0.1, MaxDelay: 5 * time.Millisecond}}
)

// ModeNamed returns Memory, Kafka or Faults by name.
func ModeNamed(name string) (Mode, error) {
	for _, m := range []Mode{Memory, Kafka, Faults} {
		if m.Name == name {
			return m, nil
		}
	}
	return Mode{}, fmt.Errorf("mode %q: want memory, kafka or faults", name)
}

// Epoch is where a scenario's virtual clock starts.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Run runs sc against sys in mode m: it starts sys through the run
// pipeline (harness.Start) on a virtual clock, applies the given steps,
// lets the system settle, applies the when steps, lets it settle again,
// then judges the expectations and every checker of the run (no loss, no
// duplicate effect, per-key order, the system's own invariants) over the
// recorded history. The error is for a scenario that could not be carried
// out (the broker would not start); what did not hold is in the Verdict.
func Run(ctx context.Context, sys harness.System, sc *Scenario, m Mode) (*Verdict, error) {
	start := time.Now()
	if sc.Setup != nil {
		c, ok := sys.(Configurable)
		if !ok {
			return nil, fmt.Errorf("scenario %q: %s takes no setup", sc.Name, sys.Name())
		}
		var err error
		if sys, err = c.Configure(sc.Setup); err != nil {
			return nil, fmt.Errorf("scenario %q: setup: %w", sc.Name, err)
		}
	}
	o := harness.Options{Broker: m.Broker, NoFault: m.Fault == nil, Dedup: sc.Dedup, Quiesce: sc.Timeout,
		Clock: clock.NewVirtual(Epoch), HistoryInMemory: true}
	if m.Fault != nil {
		f, err := chaos.NewMessageFault(*m.Fault, clock.Real{})
		if err != nil {
			return nil, err
		}
		o.Fault = f
	}
	sess, err := harness.Start(ctx, sys, o)
	if err != nil {
		return nil, err
	}
	r := &runner{sc: sc, sess: sess, clk: o.Clock.(*clock.Virtual)}
	v, err := r.run(ctx)
	err = errors.Join(err, sess.Close())
	if v != nil {
		v.Duration, v.Environment = time.Since(start), m.Name+" on "+sess.Broker()
	}
	return v, err
}

type runner struct {
	sc   *Scenario
	sess *harness.Session
	clk  *clock.Virtual
	// unsettled is set when the system did not settle after some step.
	unsettled bool
	problems  []string
	results   []check.Result
}

func (r *runner) run(ctx context.Context) (*Verdict, error) {
	for _, phase := range []struct {
		name  string
		steps []Step
	}{{"given", r.sc.Given}, {"when", r.sc.When}} {
		for i, s := range phase.steps {
			if err := r.apply(ctx, s); err != nil {
				r.problems = append(r.problems, fmt.Sprintf("%s[%d] (line %d): %v", phase.name, i, s.Line, err))
			}
		}
		r.settle(ctx, phase.name)
	}
	for _, e := range r.sc.Then {
		if e.Events != nil || e.Event != nil || e.View != nil {
			r.results = append(r.results, r.state(ctx, e))
		}
	}
	if err := r.sess.Stop(); err != nil {
		r.problems = append(r.problems, err.Error())
	}
	tr := &transcript{}
	checkers := []check.Checker{tr}
	for _, e := range r.sc.Then {
		if e.Messages != nil || e.DeadLetter != nil {
			checkers = append(checkers, historyExpectation{e})
		}
	}
	// A scenario sends no load operations: the system's state checks
	// judge what its steps dispatched, which the system remembers.
	judged, err := r.sess.Judge(ctx, 0, !r.unsettled, checkers...)
	if err != nil {
		return nil, err
	}
	for _, res := range judged {
		if res.Invariant != tr.Name() {
			r.results = append(r.results, res)
		}
	}
	r.invariants()
	return r.verdict(tr), nil
}

// settle waits for the system to settle; not settling is a problem.
func (r *runner) settle(ctx context.Context, after string) {
	if ok, n := r.sess.Quiesce(ctx); !ok {
		r.unsettled = true
		r.problems = append(r.problems, fmt.Sprintf("after %s: the system did not settle within %s (%d unsettled)", after, r.sc.Timeout, n))
	}
	if err := r.sess.Failed(); err != nil {
		r.problems = append(r.problems, err.Error())
	}
}

func (r *runner) apply(ctx context.Context, s Step) error {
	inst := r.sess.Instance()
	switch s.Kind {
	case KindCommand:
		d, ok := inst.(Dispatcher)
		if !ok {
			return errors.New("the system takes no commands (it is not a scenarios.Dispatcher)")
		}
		id := s.ID
		if id == "" {
			id = fmt.Sprintf("cmd-%d-%d", s.Line, s.Column)
		}
		for range s.Times {
			if err := d.Dispatch(ctx, id, s.Value); err != nil {
				return fmt.Errorf("dispatch %s %s: %w", s.Type, id, err)
			}
		}
	case KindEvent:
		es, ok := inst.(EventStorer)
		if !ok {
			return errors.New("the system has no event store (it is not a scenarios.EventStorer)")
		}
		env := event.Envelope{ID: s.ID, Type: s.Type, Stream: s.Stream, Data: s.Data, SchemaVersion: 1, Metadata: s.Metadata}
		if env.ID == "" {
			env.ID = fmt.Sprintf("evt-%d-%d", s.Line, s.Column)
		}
		if _, err := es.EventStore().Append(ctx, s.Stream, eventstore.Any, env); err != nil {
			return fmt.Errorf("append %s to %s: %w", s.Type, s.Stream, err)
		}
	case KindMessage:
		m := &bus.Message{ID: s.ID, Topic: s.Topic, Key: s.Key, Payload: s.Data}
		if m.ID == "" {
			m.ID = fmt.Sprintf("msg-%d-%d", s.Line, s.Column)
		}
		if s.Type != "" {
			m.SetHeader(bus.HeaderType, s.Type)
		}
		for k, v := range s.Headers {
			m.SetHeader(k, v)
		}
		return r.sess.Env().Bus.Publish(ctx, m)
	default:
		return r.elapse(ctx, s.Elapse)
	}
	return nil
}

// elapse moves the virtual clock forward by d the way a workflow test
// environment does: to each pending deadline of the system in turn,
// letting the system settle after each (an answered deadline may arm the
// next), then to the end.
func (r *runner) elapse(ctx context.Context, d time.Duration) error {
	target := r.clk.Now().Add(d)
	dl, ok := r.sess.Instance().(Deadlines)
	for ok {
		r.settle(ctx, "a deadline")
		at, pending := dl.NextDeadline()
		if !pending || at.After(target) {
			break
		}
		r.clk.Set(at)
		if err := r.awaitFired(ctx, dl, at); err != nil {
			return err
		}
	}
	r.clk.Set(target)
	r.settle(ctx, "elapse")
	return nil
}

// awaitFired waits until the system answered the deadline due at at.
func (r *runner) awaitFired(ctx context.Context, dl Deadlines, at time.Time) error {
	deadline := time.Now().Add(r.sc.Timeout)
	for {
		next, pending := dl.NextDeadline()
		if !pending || next.After(at) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the deadline due at %s was not answered within %s", at.Format(time.RFC3339), r.sc.Timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// state judges an expectation on the system's state after it settled.
func (r *runner) state(ctx context.Context, e Expectation) check.Result {
	res := check.Result{Invariant: expectationName(e), Checked: 1, Valid: true}
	if err := r.stateErr(ctx, e); err != nil {
		res.Valid, res.Found, res.Note = false, 1, err.Error()
	}
	return res
}

func expectationName(e Expectation) string { return fmt.Sprintf("then (line %d): %s", e.Line, e.Text) }

func (r *runner) stateErr(ctx context.Context, e Expectation) error {
	inst := r.sess.Instance()
	if e.View != nil {
		v, ok := inst.(Viewer)
		if !ok {
			return errors.New("the system has no read models (it is not a scenarios.Viewer)")
		}
		return viewErr(ctx, v, e.View)
	}
	es, ok := inst.(EventStorer)
	if !ok {
		return errors.New("the system has no event store (it is not a scenarios.EventStorer)")
	}
	stream := ""
	if e.Events != nil {
		stream = e.Events.Stream
	} else {
		stream = e.Event.Stream
	}
	evs, err := es.EventStore().ReadStream(ctx, stream, 1, maxCount)
	if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	if e.Events != nil {
		return typesErr("stream "+stream, e.Events.Types, eventTypes(evs))
	}
	return eventErr(evs, e.Event)
}

func eventTypes(evs []event.Envelope) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func typesErr(where string, want, got []string) error {
	if strings.Join(want, "\x00") == strings.Join(got, "\x00") && len(want) == len(got) {
		return nil
	}
	return fmt.Errorf("%s holds [%s], want [%s]", where, strings.Join(quoteAll(got), ", "), strings.Join(want, ", "))
}

// quoteAll escapes names that came from the system or a broker before
// they are printed.
func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = escape(s)
	}
	return out
}

// escape writes each control or unprintable character of s as its Go
// escape (\x1b, \u2028), leaving the rest as it is: a name from a broker
// cannot move the terminal's cursor or forge a line of the report.
func escape(s string) string {
	clean := true
	for _, r := range s {
		if !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r) // '\x1b'
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

func eventErr(evs []event.Envelope, x *EventExpectation) error {
	n := 0
	var last error
	for _, ev := range evs {
		if ev.Type != x.Type {
			continue
		}
		if x.Match != nil {
			if err := x.Match.Check(ev.Data); err != nil {
				last = fmt.Errorf("%s %s: %w", ev.Type, escape(ev.ID), err)
				continue
			}
		}
		n++
	}
	switch {
	case x.Count > 0 && n != x.Count:
		return fmt.Errorf("%d matching %s event(s), want %d", n, x.Type, x.Count)
	case n == 0 && last != nil:
		return last
	case n == 0:
		return fmt.Errorf("no %s event; the stream holds [%s]", x.Type, strings.Join(quoteAll(eventTypes(evs)), ", "))
	}
	return nil
}

func viewErr(ctx context.Context, v Viewer, x *ViewExpectation) error {
	row, ok, err := v.View(ctx, x.Name, x.ID)
	switch {
	case err != nil:
		return fmt.Errorf("view %s: %w", x.Name, err)
	case x.Absent && ok:
		return fmt.Errorf("view %s has a row %s", x.Name, x.ID)
	case x.Absent:
		return nil
	case !ok:
		return fmt.Errorf("view %s has no row %s", x.Name, x.ID)
	case x.Match == nil:
		return nil
	}
	data, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("view %s row %s: %w", x.Name, x.ID, err)
	}
	return x.Match.Check(data)
}

// invariants judges `invariant:` expectations against the checkers' verdicts.
func (r *runner) invariants() {
	for _, e := range r.sc.Then {
		if e.Invariant == "" {
			continue
		}
		res := check.Result{Invariant: expectationName(e), Checked: 1}
		res.Note = fmt.Sprintf("no checker named %s judged the run", escape(e.Invariant))
		for _, got := range r.results {
			if got.Invariant == e.Invariant {
				res.Valid, res.Note = got.Valid, ""
				if !got.Valid {
					res.Note = "it failed"
				}
			}
		}
		if !res.Valid {
			res.Found = 1
		}
		r.results = append(r.results, res)
	}
}
