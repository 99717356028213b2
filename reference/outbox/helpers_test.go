package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// errCrash is the fault that "kills" a relay process.
var errCrash = errors.New("injected crash")

// recorder is a bus.Publisher that records every confirmed message, tagged
// with the run (process incarnation) that published it, and can fail the
// Nth Publish call of a run.
type recorder struct {
	mu   sync.Mutex
	run  int
	got  [][]*bus.Message // per run
	next bus.Publisher    // where confirmed messages also go, or nil
}

func newRecorder(next bus.Publisher) *recorder { return &recorder{next: next} }

// incarnation returns the publisher one relay process uses: fault, when
// not nil, decides per Publish call (1-based) whether to fail it.
func (r *recorder) incarnation(fault func(call int) error) *faulty {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, nil)
	r.run = len(r.got) - 1
	return &faulty{rec: r, run: r.run, fault: fault}
}

func (r *recorder) runs() [][]*bus.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]*bus.Message, len(r.got))
	for i, ms := range r.got {
		out[i] = append([]*bus.Message(nil), ms...)
	}
	return out
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ms := range r.got {
		n += len(ms)
	}
	return n
}

type faulty struct {
	rec   *recorder
	run   int
	fault func(call int) error
	mu    sync.Mutex
	calls int
}

var _ bus.Publisher = (*faulty)(nil)

func (f *faulty) Publish(ctx context.Context, msgs ...*bus.Message) error {
	f.mu.Lock()
	f.calls++
	call := f.calls
	f.mu.Unlock()
	if f.fault != nil {
		if err := f.fault(call); err != nil {
			return err
		}
	}
	if f.rec.next != nil {
		if err := f.rec.next.Publish(ctx, msgs...); err != nil {
			return err
		}
	}
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	for _, m := range msgs {
		f.rec.got[f.run] = append(f.rec.got[f.run], m.Clone())
	}
	return nil
}

func (f *faulty) Close() error { return nil }

// mortal wraps a checkpoint the way a process death does: once dead, saves
// are lost (the relay's final save on stop never happens after a crash).
type mortal struct {
	Checkpoint
	mu   sync.Mutex
	dead bool
}

func (m *mortal) kill() {
	m.mu.Lock()
	m.dead = true
	m.mu.Unlock()
}

func (m *mortal) Save(ctx context.Context, pos uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return errCrash
	}
	return m.Checkpoint.Save(ctx, pos)
}

// appendEvents writes n events round-robin over streams, one append each,
// correlated by stream, and returns them as stored.
func appendEvents(ctx context.Context, t *testing.T, s eventstore.Store, streams, n int, prefix string) {
	t.Helper()
	for i := range n {
		stream := fmt.Sprintf("s%d", i%streams)
		e, err := event.New(fmt.Sprintf("%s-%d", prefix, i), "Happened", stream, map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		e.Metadata = map[string]string{event.MetaCorrelationID: "order-" + stream}
		if _, err := s.Append(ctx, stream, eventstore.Any, e); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(ctx context.Context, t *testing.T, s eventstore.Store) []event.Envelope {
	t.Helper()
	all, err := s.ReadAll(ctx, 1, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// verdict is what check finds in a relay's output.
type verdict struct {
	lost      []string // stored events never published
	phantoms  []string // published messages that are no stored event
	misorder  []string // a stream's events out of order within one run
	stale     []string // republished though at or before the run's checkpoint
	duplicate int      // messages published more than once, in all
}

func (v verdict) ok() bool {
	return len(v.lost)+len(v.phantoms)+len(v.misorder)+len(v.stale) == 0
}

func (v verdict) String() string {
	return fmt.Sprintf("lost %v, phantoms %v, misordered %v, stale %v, duplicates %d",
		v.lost, v.phantoms, v.misorder, v.stale, v.duplicate)
}

// check compares what each run published with the store. from[i] is the
// checkpoint run i started from. It demands: every stored event published
// at least once; nothing published that was not stored; within a run, each
// stream's events contiguous and in version order starting right after the
// run's checkpoint; and no event at or before a run's checkpoint published
// by that run (a duplicate must come from after the last checkpoint).
func check(stored []event.Envelope, runs [][]*bus.Message, from []uint64) verdict {
	var v verdict
	byID := make(map[string]event.Envelope, len(stored))
	for _, e := range stored {
		byID[e.ID] = e
	}
	seen := make(map[string]int)
	for i, ms := range runs {
		// The version each stream must publish next: one past the last
		// version at or before the checkpoint.
		want := make(map[string]uint64)
		for _, e := range stored {
			if e.Position <= from[i] {
				want[e.Stream] = e.Version
			}
		}
		for _, m := range ms {
			e, ok := byID[m.ID]
			if !ok {
				v.phantoms = append(v.phantoms, m.ID)
				continue
			}
			seen[m.ID]++
			if e.Position <= from[i] {
				v.stale = append(v.stale, fmt.Sprintf("run %d: %s@%d <= checkpoint %d", i, m.ID, e.Position, from[i]))
			}
			if e.Version != want[e.Stream]+1 {
				v.misorder = append(v.misorder, fmt.Sprintf("run %d: %s v%d, want v%d", i, e.Stream, e.Version, want[e.Stream]+1))
			}
			want[e.Stream] = e.Version
		}
	}
	for _, e := range stored {
		switch n := seen[e.ID]; {
		case n == 0:
			v.lost = append(v.lost, e.ID)
		case n > 1:
			v.duplicate += n - 1
		}
	}
	return v
}

// eventually polls cond until it holds or the (generous) deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// runRelay starts r.Run. done closes when Run returns; stop cancels it and
// returns Run's error (either may be called first, and stop many times).
func runRelay(ctx context.Context, r *Relay) (done <-chan struct{}, stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	fin := make(chan struct{})
	var err error
	go func() {
		err = r.Run(ctx)
		close(fin)
	}()
	return fin, func() error {
		cancel()
		<-fin
		return err
	}
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }

// waitBriefly yields between polls of a condition another goroutine makes true.
func waitBriefly() { time.Sleep(50 * time.Microsecond) }
