package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// model is the reference the randomized test compares a backend against: the
// store's rules written as plainly as possible, with no concurrency.
type model struct {
	log                      []modelEvent
	streams                  map[string][]int // stream -> indexes into log
	ids                      map[string]int   // event ID -> index into log
	maxCount, truncateBefore map[string]uint64
}

type modelEvent struct {
	id, stream        string
	version, position uint64
}

// outcome is what an append is expected to do.
type outcome struct {
	res      eventstore.AppendResult
	actual   uint64 // for a concurrency error
	kind     string // "ok", "wrong-version", "conflict"
	appended bool
}

func newModel() *model {
	return &model{streams: make(map[string][]int), ids: make(map[string]int),
		maxCount: make(map[string]uint64), truncateBefore: make(map[string]uint64)}
}

// exists: the stream has events and is not soft-deleted.
func (m *model) exists(stream string) bool {
	v := m.version(stream)
	return v > 0 && m.truncateBefore[stream] <= v
}

// expectationHolds is the expectation rule, written out for the model.
func (m *model) expectationHolds(stream string, exp eventstore.ExpectedVersion) bool {
	switch exp {
	case eventstore.Any:
		return true
	case eventstore.NoStream, 0:
		return !m.exists(stream)
	case eventstore.StreamExists:
		return m.exists(stream)
	}
	return uint64(exp) == m.version(stream)
}

// visible returns the stream's events that reads may return.
func (m *model) visible(stream string) []modelEvent {
	last := m.version(stream)
	first := max(uint64(1), m.truncateBefore[stream])
	if mc := m.maxCount[stream]; mc > 0 && last >= mc {
		first = max(first, last-mc+1)
	}
	var out []modelEvent
	for _, e := range m.streamEvents(stream) {
		if e.version >= first {
			out = append(out, e)
		}
	}
	return out
}

// readForwards and readBackwards are the stream reads over visible events.
func (m *model) readForwards(stream string, from uint64, limit int) []modelEvent {
	var out []modelEvent
	for _, e := range m.visible(stream) {
		if e.version >= from && (limit <= 0 || len(out) < limit) {
			out = append(out, e)
		}
	}
	return out
}

func (m *model) readBackwards(stream string, from uint64, limit int) []modelEvent {
	vis := m.visible(stream)
	var out []modelEvent
	for i := len(vis) - 1; i >= 0; i-- {
		if vis[i].version <= from && (limit <= 0 || len(out) < limit) {
			out = append(out, vis[i])
		}
	}
	return out
}

func (m *model) version(stream string) uint64 { return uint64(len(m.streams[stream])) }

func (m *model) append(stream string, exp eventstore.ExpectedVersion, ids []string) outcome {
	current := m.version(stream)
	stored := 0
	for _, id := range ids {
		if _, ok := m.ids[id]; ok {
			stored++
		}
	}
	if stored > 0 {
		if stored < len(ids) {
			return outcome{kind: "conflict"}
		}
		first := m.log[m.ids[ids[0]]]
		for i, id := range ids {
			e := m.log[m.ids[id]]
			if e.stream != stream || e.version != first.version+uint64(i) {
				return outcome{kind: "conflict"}
			}
		}
		last := m.log[m.ids[ids[len(ids)-1]]]
		res := eventstore.AppendResult{NextExpected: last.version, Position: last.position}
		if exp == eventstore.Any || exp == eventstore.StreamExists ||
			(exp == eventstore.NoStream && first.version == 1) ||
			(exp >= 0 && uint64(exp)+1 == first.version) {
			return outcome{kind: "ok", res: res}
		}
		return outcome{kind: "wrong-version", actual: current}
	}
	if !m.expectationHolds(stream, exp) {
		return outcome{kind: "wrong-version", actual: current}
	}
	for i, id := range ids {
		e := modelEvent{id: id, stream: stream, version: current + uint64(i) + 1, position: uint64(len(m.log)) + 1}
		m.ids[id] = len(m.log)
		m.streams[stream] = append(m.streams[stream], len(m.log))
		m.log = append(m.log, e)
	}
	return outcome{kind: "ok", appended: true, res: eventstore.AppendResult{NextExpected: m.version(stream), Position: uint64(len(m.log))}}
}

// window returns the events of es from 1-based from, at most limit (<= 0: all).
func window(es []modelEvent, from uint64, limit int) []modelEvent {
	if from == 0 {
		from = 1
	}
	if from > uint64(len(es)) {
		return nil
	}
	out := es[from-1:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (m *model) streamEvents(stream string) []modelEvent {
	out := make([]modelEvent, 0, len(m.streams[stream]))
	for _, i := range m.streams[stream] {
		out = append(out, m.log[i])
	}
	return out
}

// testRandomizedModel runs a few hundred seeded random operations against
// the backend and the model and compares every result and the final state.
func testRandomizedModel(t *testing.T, s eventstore.Store) {
	t.Helper()
	const seed, ops = 20260101, 400
	t.Logf("seed %d", seed)
	r := &modelRun{t: t, s: s, m: newModel(), rng: rand.New(rand.NewSource(seed)), ctx: context.Background(),
		streams: []string{"a", "b", "c", "d"}}
	for op := 0; op < ops; op++ {
		switch k := r.rng.Intn(13); {
		case k == 10:
			r.setMetadata(op)
		case k == 11:
			r.deleteStream(op)
		case k == 12:
			r.read(op, true)
		case k < 6:
			r.append(op)
		case k < 8:
			r.read(op, false)
		default:
			r.readAll(op)
		}
	}
	r.compareFinal()
}

// modelRun is one randomized run: the store, the model, the seeded choices
// and the appends made so far (retried and reused later).
type modelRun struct {
	t       *testing.T
	s       eventstore.Store
	m       *model
	rng     *rand.Rand
	ctx     context.Context // the test's, for its whole run
	streams []string
	history []modelCall
	fresh   int
}

type modelCall struct {
	stream string
	exp    eventstore.ExpectedVersion
	ids    []string
}

func (r *modelRun) newID() string { r.fresh++; return fmt.Sprintf("id-%d", r.fresh) }

func (r *modelRun) stream() string { return r.streams[r.rng.Intn(len(r.streams))] }

// setMetadata sets a max count, a truncation, or none.
func (r *modelRun) setMetadata(op int) {
	stream := r.stream()
	md := eventstore.StreamMetadata{MaxCount: uint64(r.rng.Intn(4)), TruncateBefore: uint64(r.rng.Intn(int(r.m.version(stream)) + 2))}
	if err := r.s.SetStreamMetadata(r.ctx, stream, md); err != nil {
		r.t.Fatalf("op %d: set metadata %s %+v: %v", op, stream, md, err)
	}
	r.m.maxCount[stream], r.m.truncateBefore[stream] = md.MaxCount, md.TruncateBefore
}

// deleteStream soft-deletes a stream under a random expectation.
func (r *modelRun) deleteStream(op int) {
	stream := r.stream()
	exp := []eventstore.ExpectedVersion{eventstore.Any, eventstore.NoStream, eventstore.StreamExists, eventstore.Exact(r.m.version(stream))}[r.rng.Intn(4)]
	err := r.s.DeleteStream(r.ctx, stream, exp)
	where := fmt.Sprintf("op %d: delete %s %v", op, stream, exp)
	switch {
	case r.m.version(stream) == 0:
		if !errors.Is(err, eventstore.ErrStreamNotFound) {
			r.t.Fatalf("%s: err = %v, want ErrStreamNotFound", where, err)
		}
	case !r.m.expectationHolds(stream, exp):
		var ce *eventstore.ConcurrencyError
		if !errors.As(err, &ce) || ce.Actual != r.m.version(stream) {
			r.t.Fatalf("%s: err = %v, want *ConcurrencyError with Actual %d", where, err, r.m.version(stream))
		}
	default:
		if err != nil {
			r.t.Fatalf("%s: %v", where, err)
		}
		r.m.truncateBefore[stream] = r.m.version(stream) + 1
	}
}

// read reads a stream window forwards or backwards.
func (r *modelRun) read(op int, backwards bool) {
	stream := r.stream()
	from, limit := uint64(r.rng.Intn(int(r.m.version(stream))+3)), r.rng.Intn(6)-1
	read, dir, want := r.s.ReadStream, "", r.m.readForwards
	if backwards {
		read, dir, want = r.s.ReadStreamBackwards, " backwards", r.m.readBackwards
	}
	got, err := read(r.ctx, stream, from, limit)
	if !r.m.exists(stream) {
		if !errors.Is(err, eventstore.ErrStreamNotFound) {
			r.t.Fatalf("op %d: read missing or deleted %s%s: err = %v", op, stream, dir, err)
		}
		return
	}
	if err != nil {
		r.t.Fatalf("op %d: read %s%s: %v", op, stream, dir, err)
	}
	compare(r.t, fmt.Sprintf("op %d: read %s%s from %d limit %d", op, stream, dir, from, limit), got, want(stream, from, limit))
}

func (r *modelRun) readAll(op int) {
	from, limit := uint64(r.rng.Intn(len(r.m.log)+3)), r.rng.Intn(12)-1
	got, err := r.s.ReadAll(r.ctx, from, limit)
	if err != nil {
		r.t.Fatalf("op %d: read all: %v", op, err)
	}
	compare(r.t, fmt.Sprintf("op %d: read all from %d limit %d", op, from, limit), got, window(r.m.log, from, limit))
}

// append appends fresh IDs, retries an earlier append, or reuses old IDs,
// under a random expectation, and checks the outcome the model predicts.
func (r *modelRun) append(op int) {
	c := r.nextCall()
	want := r.m.append(c.stream, c.exp, c.ids)
	if want.appended {
		r.history = append(r.history, c)
	}
	res, err := r.s.Append(r.ctx, c.stream, c.exp, evs(c.ids...)...)
	where := fmt.Sprintf("op %d: append %s %v %v", op, c.stream, c.exp, c.ids)
	switch want.kind {
	case "ok":
		if err != nil || res != want.res {
			r.t.Fatalf("%s: got %+v, %v; want %+v", where, res, err, want.res)
		}
	case "wrong-version":
		var ce *eventstore.ConcurrencyError
		if !errors.As(err, &ce) || ce.Actual != want.actual {
			r.t.Fatalf("%s: err = %v, want *ConcurrencyError with Actual %d", where, err, want.actual)
		}
	case "conflict":
		if !errors.Is(err, eventstore.ErrIdempotencyConflict) {
			r.t.Fatalf("%s: err = %v, want ErrIdempotencyConflict", where, err)
		}
	}
}

// nextCall picks an append: its stream, expectation and IDs.
func (r *modelRun) nextCall() modelCall {
	c := modelCall{stream: r.stream()}
	v := r.m.version(c.stream)
	switch r.rng.Intn(7) {
	case 0:
		c.exp = eventstore.Any
	case 1:
		c.exp = eventstore.NoStream
	case 2:
		c.exp = eventstore.StreamExists
	case 3, 4:
		c.exp = eventstore.Exact(v)
	default:
		c.exp = eventstore.Exact(uint64(max(0, int64(v)+int64(r.rng.Intn(3))-1)))
	}
	switch k := r.rng.Intn(10); {
	case k < 6 || len(r.history) == 0:
		for n := 1 + r.rng.Intn(3); n > 0; n-- {
			c.ids = append(c.ids, r.newID())
		}
	case k < 8: // a retry, with its own or another expectation
		prev := r.history[r.rng.Intn(len(r.history))]
		c.stream, c.ids = prev.stream, prev.ids
		if r.rng.Intn(2) == 0 {
			c.exp = prev.exp
		}
	case k < 9: // an old ID mixed with a fresh one
		prev := r.history[r.rng.Intn(len(r.history))]
		c.ids = []string{prev.ids[r.rng.Intn(len(prev.ids))], r.newID()}
	default: // an old ID, maybe in another stream
		prev := r.history[r.rng.Intn(len(r.history))]
		c.ids = []string{prev.ids[r.rng.Intn(len(prev.ids))]}
	}
	return c
}

// compareFinal compares the whole log and every visible stream.
func (r *modelRun) compareFinal() {
	compare(r.t, "final log", readAll(r.t, r.s), r.m.log)
	for _, stream := range r.streams {
		if !r.m.exists(stream) {
			continue
		}
		got, err := r.s.ReadStream(r.ctx, stream, 1, 0)
		if err != nil {
			r.t.Fatal(err)
		}
		compare(r.t, "final stream "+stream, got, r.m.visible(stream))
	}
}

// compare fails the test unless got matches want event for event.
func compare(t *testing.T, where string, got []event.Envelope, want []modelEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d events %v, want %d", where, len(got), ids(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.Stream != w.stream || g.Version != w.version || g.Position != w.position {
			t.Fatalf("%s: event %d is %s %s v%d p%d, want %s %s v%d p%d", where, i, g.ID, g.Stream, g.Version, g.Position, w.id, w.stream, w.version, w.position)
		}
	}
}
