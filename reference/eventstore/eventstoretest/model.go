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
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	ctx := context.Background()
	m := newModel()
	streams := []string{"a", "b", "c", "d"}
	type call struct {
		stream string
		exp    eventstore.ExpectedVersion
		ids    []string
	}
	var history []call
	fresh := 0
	newID := func() string { fresh++; return fmt.Sprintf("id-%d", fresh) }

	for op := 0; op < ops; op++ {
		switch r := rng.Intn(13); {
		case r == 10: // metadata: a max count, a truncation, or none
			stream := streams[rng.Intn(len(streams))]
			md := eventstore.StreamMetadata{MaxCount: uint64(rng.Intn(4)), TruncateBefore: uint64(rng.Intn(int(m.version(stream)) + 2))}
			if err := s.SetStreamMetadata(ctx, stream, md); err != nil {
				t.Fatalf("op %d: set metadata %s %+v: %v", op, stream, md, err)
			}
			m.maxCount[stream], m.truncateBefore[stream] = md.MaxCount, md.TruncateBefore
			continue
		case r == 11: // soft delete
			stream := streams[rng.Intn(len(streams))]
			exp := []eventstore.ExpectedVersion{eventstore.Any, eventstore.NoStream, eventstore.StreamExists, eventstore.Exact(m.version(stream))}[rng.Intn(4)]
			err := s.DeleteStream(ctx, stream, exp)
			where := fmt.Sprintf("op %d: delete %s %v", op, stream, exp)
			switch {
			case m.version(stream) == 0:
				if !errors.Is(err, eventstore.ErrStreamNotFound) {
					t.Fatalf("%s: err = %v, want ErrStreamNotFound", where, err)
				}
			case !m.expectationHolds(stream, exp):
				var ce *eventstore.ConcurrencyError
				if !errors.As(err, &ce) || ce.Actual != m.version(stream) {
					t.Fatalf("%s: err = %v, want *ConcurrencyError with Actual %d", where, err, m.version(stream))
				}
			default:
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				m.truncateBefore[stream] = m.version(stream) + 1
			}
			continue
		case r == 12: // read backwards
			stream := streams[rng.Intn(len(streams))]
			from, limit := uint64(rng.Intn(int(m.version(stream))+3)), rng.Intn(6)-1
			got, err := s.ReadStreamBackwards(ctx, stream, from, limit)
			if !m.exists(stream) {
				if !errors.Is(err, eventstore.ErrStreamNotFound) {
					t.Fatalf("op %d: read missing or deleted %s backwards: err = %v", op, stream, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("op %d: read %s backwards: %v", op, stream, err)
			}
			compare(t, fmt.Sprintf("op %d: read %s backwards from %d limit %d", op, stream, from, limit), got, m.readBackwards(stream, from, limit))
			continue
		case r < 6:
			c := call{stream: streams[rng.Intn(len(streams))]}
			v := m.version(c.stream)
			switch rng.Intn(7) {
			case 0:
				c.exp = eventstore.Any
			case 1:
				c.exp = eventstore.NoStream
			case 2:
				c.exp = eventstore.StreamExists
			case 3, 4:
				c.exp = eventstore.Exact(v)
			default:
				c.exp = eventstore.Exact(uint64(max(0, int64(v)+int64(rng.Intn(3))-1)))
			}
			switch k := rng.Intn(10); {
			case k < 6 || len(history) == 0:
				for n := 1 + rng.Intn(3); n > 0; n-- {
					c.ids = append(c.ids, newID())
				}
			case k < 8: // a retry, with its own or another expectation
				prev := history[rng.Intn(len(history))]
				c.stream, c.ids = prev.stream, prev.ids
				if rng.Intn(2) == 0 {
					c.exp = prev.exp
				}
			case k < 9: // an old ID mixed with a fresh one
				prev := history[rng.Intn(len(history))]
				c.ids = []string{prev.ids[rng.Intn(len(prev.ids))], newID()}
			default: // an old ID, maybe in another stream
				prev := history[rng.Intn(len(history))]
				c.ids = []string{prev.ids[rng.Intn(len(prev.ids))]}
			}
			want := m.append(c.stream, c.exp, c.ids)
			if want.appended {
				history = append(history, c)
			}
			res, err := s.Append(ctx, c.stream, c.exp, evs(c.ids...)...)
			where := fmt.Sprintf("op %d: append %s %v %v", op, c.stream, c.exp, c.ids)
			switch want.kind {
			case "ok":
				if err != nil || res != want.res {
					t.Fatalf("%s: got %+v, %v; want %+v", where, res, err, want.res)
				}
			case "wrong-version":
				var ce *eventstore.ConcurrencyError
				if !errors.As(err, &ce) || ce.Actual != want.actual {
					t.Fatalf("%s: err = %v, want *ConcurrencyError with Actual %d", where, err, want.actual)
				}
			case "conflict":
				if !errors.Is(err, eventstore.ErrIdempotencyConflict) {
					t.Fatalf("%s: err = %v, want ErrIdempotencyConflict", where, err)
				}
			}
		case r < 8:
			stream := streams[rng.Intn(len(streams))]
			from, limit := uint64(rng.Intn(int(m.version(stream))+3)), rng.Intn(6)-1
			got, err := s.ReadStream(ctx, stream, from, limit)
			if !m.exists(stream) {
				if !errors.Is(err, eventstore.ErrStreamNotFound) {
					t.Fatalf("op %d: read missing or deleted %s: err = %v", op, stream, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("op %d: read %s: %v", op, stream, err)
			}
			compare(t, fmt.Sprintf("op %d: read %s from %d limit %d", op, stream, from, limit), got, m.readForwards(stream, from, limit))
		default:
			from, limit := uint64(rng.Intn(len(m.log)+3)), rng.Intn(12)-1
			got, err := s.ReadAll(ctx, from, limit)
			if err != nil {
				t.Fatalf("op %d: read all: %v", op, err)
			}
			compare(t, fmt.Sprintf("op %d: read all from %d limit %d", op, from, limit), got, window(m.log, from, limit))
		}
	}
	compare(t, "final log", readAll(t, s), m.log)
	for _, stream := range streams {
		if !m.exists(stream) {
			continue
		}
		got, err := s.ReadStream(ctx, stream, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, "final stream "+stream, got, m.visible(stream))
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
