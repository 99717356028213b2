package outbox

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
)

func TestNewValidates(t *testing.T) {
	_, err := New(nil, nil, nil)
	if err == nil {
		t.Fatal("New(nil, nil, nil) succeeded")
	}
	for _, want := range []string{"store", "publisher", "checkpoint"} {
		if !containsWord(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w {
			return true
		}
	}
	return false
}

// TestRelayPublishesInOrder relays a backlog and live appends through
// membus and consumes them: every event once, each key in stream order.
func TestRelayPublishesInOrder(t *testing.T) {
	ctx := t.Context()
	store := newStore(t)
	b := membus.New(membus.Partitions(4))
	t.Cleanup(func() { _ = b.Close() })
	appendEvents(ctx, t, store, 7, 300, "backlog")

	cp := NewMemoryCheckpoint()
	r, err := New(store, b, cp, WithBatch(32))
	if err != nil {
		t.Fatal(err)
	}
	deliveries, err := b.Subscribe(ctx, DefaultTopic, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, stop := runRelay(ctx, r)
	appendEvents(ctx, t, store, 7, 200, "live")
	const total = 500

	seen := make(map[string]bool)
	lastVersion := make(map[string]uint64) // per key
	for len(seen) < total {
		var d bus.Delivery
		select {
		case d = <-deliveries:
		case <-time.After(30 * time.Second):
			t.Fatalf("got %d of %d events", len(seen), total)
		}
		m := d.Message()
		var e event.Envelope
		if err := jsonDecode(m.Payload, &e); err != nil {
			t.Fatal(err)
		}
		if m.ID != e.ID || m.Key != "order-"+e.Stream || m.Header(bus.HeaderType) != e.Type {
			t.Fatalf("message %+v does not carry event %s of %s", m, e.ID, e.Stream)
		}
		if seen[m.ID] {
			t.Fatalf("%s delivered twice", m.ID)
		}
		seen[m.ID] = true
		if e.Version != lastVersion[m.Key]+1 {
			t.Fatalf("key %s: version %d after %d", m.Key, e.Version, lastVersion[m.Key])
		}
		lastVersion[m.Key] = e.Version
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "relayed to the end", func() bool { return r.Relayed() == store.LastPosition() })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if pos, _ := cp.Load(ctx); pos != total {
		t.Fatalf("checkpoint after a clean stop = %d, want %d", pos, total)
	}
}

// TestRelayRoute: the route picks topics and keys, and an empty topic keeps
// an event in the store while the relay still moves past it.
func TestRelayRoute(t *testing.T) {
	ctx := t.Context()
	store := newStore(t)
	appendEvents(ctx, t, store, 3, 30, "e")
	rec := newRecorder(nil)
	r, err := New(store, rec.incarnation(nil), NewMemoryCheckpoint(), WithRoute(func(e event.Envelope) (string, string) {
		if e.Stream == "s1" {
			return "", ""
		}
		return "topic-" + e.Stream, e.ID
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, stop := runRelay(ctx, r)
	eventually(t, "relayed to the end", func() bool { return r.Relayed() == 30 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := rec.runs()[0]
	if len(got) != 20 {
		t.Fatalf("published %d messages, want 20 (s1 skipped)", len(got))
	}
	for _, m := range got {
		if m.Topic == "topic-s1" || m.Key != m.ID || m.Topic[:7] != "topic-s" {
			t.Fatalf("message %s routed to %s key %s", m.ID, m.Topic, m.Key)
		}
	}
}

// crashCase runs a relay over a store through successive "processes": each
// run but the last dies at its fault (a failed publish after which nothing,
// not even the stop-time checkpoint save, happens); the last runs to the end.
type crashCase struct {
	name      string
	batch     int
	every     int
	failAt    []int // per crashing run: the Publish call that kills it
	live      int   // events appended while the first run runs
	saveFirst bool  // seed the bug: checkpoint before publish
}

type crashResult struct {
	stored []event.Envelope
	runs   [][]*bus.Message
	from   []uint64
	// republished is, per crash, relayed minus checkpointed at death: the
	// events the next run must publish again.
	republished int
}

func runCrashes(t *testing.T, store eventstore.Store, cp Checkpoint, c crashCase) crashResult {
	t.Helper()
	ctx := t.Context()
	var res crashResult
	rec := newRecorder(nil)
	last := func() uint64 {
		all := readAll(ctx, t, store)
		if len(all) == 0 {
			return 0
		}
		return all[len(all)-1].Position
	}
	for i := 0; i <= len(c.failAt); i++ {
		m := &mortal{Checkpoint: cp}
		var fault func(int) error
		if i < len(c.failAt) {
			failAt := c.failAt[i]
			fault = func(call int) error {
				if call >= failAt {
					m.kill()
					return bus.Permanent(errCrash)
				}
				return nil
			}
		}
		from, err := cp.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res.from = append(res.from, from)
		r, err := New(store, rec.incarnation(fault), m, WithBatch(c.batch), WithCheckpointEvery(c.every), WithCheckpointInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		r.cfg.saveFirst = c.saveFirst
		done, stop := runRelay(ctx, r)
		if i == 0 && c.live > 0 {
			appendEvents(ctx, t, store, 5, c.live, "live")
		}
		if fault != nil {
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("run %d did not crash", i)
			}
			err := stop()
			if !errors.Is(err, errCrash) {
				t.Fatalf("run %d: Run = %v, want the injected crash", i, err)
			}
			var perr *PublishError
			if !errors.As(err, &perr) || perr.Attempts != 1 {
				t.Fatalf("run %d: Run = %v, want a *PublishError after 1 attempt", i, err)
			}
			res.republished += int(r.Relayed() - r.Checkpointed())
			continue
		}
		eventually(t, "the last run to relay everything", func() bool { return r.Relayed() == last() })
		if err := stop(); err != nil {
			t.Fatalf("last run: %v", err)
		}
	}
	res.stored = readAll(ctx, t, store)
	res.runs = rec.runs()
	return res
}

func TestRelayCrashResume(t *testing.T) {
	cases := []crashCase{
		{name: "one crash", batch: 16, every: 64, failAt: []int{20}},
		{name: "crash before any checkpoint", batch: 16, every: 1000, failAt: []int{3}},
		{name: "checkpoint every batch", batch: 8, every: 1, failAt: []int{11}},
		{name: "three crashes", batch: 5, every: 17, failAt: []int{9, 4, 13}},
		{name: "crash on first publish", batch: 16, every: 64, failAt: []int{1}},
		{name: "live appends", batch: 7, every: 30, failAt: []int{40, 25}, live: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := newStore(t)
			appendEvents(t.Context(), t, store, 9, 400, "backlog")
			res := runCrashes(t, store, NewMemoryCheckpoint(), c)
			v := check(res.stored, res.runs, res.from)
			if !v.ok() {
				t.Fatalf("relay broke its promise: %v", v)
			}
			// Exactly the events between the checkpoint and the crash
			// are published twice: the bound the checkpoint interval sets.
			if v.duplicate != res.republished {
				t.Fatalf("%d duplicates, want %d (relayed - checkpointed at each crash)", v.duplicate, res.republished)
			}
			t.Logf("%d events, %d runs, %d duplicates", len(res.stored), len(res.runs), v.duplicate)
		})
	}
}

// TestCheckerCatchesSaveBeforePublish seeds the bug the relay avoids: a
// checkpoint that advances before the publish is confirmed. After the
// crash, the failed batch is never published again: loss, which check must
// report.
func TestCheckerCatchesSaveBeforePublish(t *testing.T) {
	store := newStore(t)
	appendEvents(t.Context(), t, store, 9, 400, "backlog")
	res := runCrashes(t, store, NewMemoryCheckpoint(), crashCase{batch: 16, every: 1, failAt: []int{20}, saveFirst: true})
	v := check(res.stored, res.runs, res.from)
	if len(v.lost) == 0 {
		t.Fatalf("checkpoint-before-publish lost nothing the checker saw: %v", v)
	}
	t.Logf("checker found: %d lost, e.g. %s", len(v.lost), v.lost[0])
}

// TestCheck feeds the checker each anomaly by hand.
func TestCheck(t *testing.T) {
	store := newStore(t)
	appendEvents(t.Context(), t, store, 2, 6, "e") // s0: e-0 e-2 e-4, s1: e-1 e-3 e-5
	stored := readAll(t.Context(), t, store)
	msg := func(ids ...string) []*bus.Message {
		var ms []*bus.Message
		for _, id := range ids {
			ms = append(ms, &bus.Message{ID: id})
		}
		return ms
	}
	cases := []struct {
		name  string
		runs  [][]*bus.Message
		from  []uint64
		field func(verdict) int
	}{
		{"clean", [][]*bus.Message{msg("e-0", "e-1", "e-2", "e-3", "e-4", "e-5")}, []uint64{0}, nil},
		{"clean restart", [][]*bus.Message{msg("e-0", "e-1", "e-2"), msg("e-2", "e-3", "e-4", "e-5")}, []uint64{0, 2}, nil},
		{"lost", [][]*bus.Message{msg("e-0", "e-1", "e-2", "e-3", "e-5")}, []uint64{0}, func(v verdict) int { return len(v.lost) }},
		{"phantom", [][]*bus.Message{msg("e-0", "e-1", "e-2", "e-3", "e-4", "e-5", "x")}, []uint64{0}, func(v verdict) int { return len(v.phantoms) }},
		{"reordered", [][]*bus.Message{msg("e-0", "e-1", "e-4", "e-3", "e-2", "e-5")}, []uint64{0}, func(v verdict) int { return len(v.misorder) }},
		{"duplicate in one run", [][]*bus.Message{msg("e-0", "e-1", "e-2", "e-2", "e-3", "e-4", "e-5")}, []uint64{0}, func(v verdict) int { return len(v.misorder) }},
		{"republished before checkpoint", [][]*bus.Message{msg("e-0", "e-1", "e-2"), msg("e-0", "e-3", "e-4", "e-5")}, []uint64{0, 3}, func(v verdict) int { return len(v.stale) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := check(stored, c.runs, c.from)
			if c.field == nil {
				if !v.ok() {
					t.Fatalf("clean output flagged: %v", v)
				}
				return
			}
			if c.field(v) == 0 || v.ok() {
				t.Fatalf("anomaly not reported: %v", v)
			}
		})
	}
}

// TestRelayRetriesTransient: failed publishes are retried on the injected
// clock, reported to the hook, and publish every event once.
func TestRelayRetriesTransient(t *testing.T) {
	ctx := t.Context()
	store := newStore(t)
	appendEvents(ctx, t, store, 3, 50, "e")
	clk := clock.NewVirtual(time.Unix(0, 0))
	rec := newRecorder(nil)
	transient := fmt.Errorf("broker hiccup: %w", bus.ErrOutcomeUnknown)
	pub := rec.incarnation(func(call int) error {
		if call == 2 || call == 3 {
			return transient
		}
		return nil
	})
	hooked := make(chan error, 10)
	// No interval timer: the only waits on clk are the backoffs.
	r, err := New(store, pub, NewMemoryCheckpoint(), WithBatch(10), WithClock(clk), WithCheckpointInterval(0),
		WithRetry(3, func(int) time.Duration { return time.Second }),
		WithErrorHook(func(_ context.Context, err error) { hooked <- err }))
	if err != nil {
		t.Fatal(err)
	}
	done, stop := runRelay(ctx, r)
	for range 2 {
		eventually(t, "the relay to back off", func() bool { return clk.Waiters() > 0 })
		clk.Advance(time.Second)
	}
	eventually(t, "relayed to the end", func() bool { return r.Relayed() == 50 })
	select {
	case <-done:
		t.Fatalf("Run stopped: %v", stop())
	default:
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(hooked) != 2 {
		t.Fatalf("hook saw %d errors, want 2", len(hooked))
	}
	var perr *PublishError
	if err := <-hooked; !errors.As(err, &perr) || !errors.Is(err, bus.ErrOutcomeUnknown) || perr.Attempts != 1 {
		t.Fatalf("hooked %v, want a *PublishError for attempt 1", err)
	}
	if v := check(readAll(ctx, t, store), rec.runs(), []uint64{0}); !v.ok() || v.duplicate != 0 {
		t.Fatalf("%v", v)
	}
}

// TestRelayGivesUp: when every attempt fails Run returns a *PublishError
// naming the batch, and the checkpoint keeps what was confirmed before it.
func TestRelayGivesUp(t *testing.T) {
	ctx := t.Context()
	store := newStore(t)
	appendEvents(ctx, t, store, 3, 30, "e")
	rec := newRecorder(nil)
	pub := rec.incarnation(func(call int) error {
		if call >= 2 {
			return errors.New("broker down")
		}
		return nil
	})
	cp := NewMemoryCheckpoint()
	r, err := New(store, pub, cp, WithBatch(10), WithRetry(4, nil))
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(ctx)
	// The relay takes what the subscription already holds, so the first
	// batch is 1 to 10 events, as the feed's timing has it: the test holds
	// the relation, not the size.
	var perr *PublishError
	if !errors.As(err, &perr) || perr.Attempts != 4 {
		t.Fatalf("Run = %v, want a *PublishError after 4 attempts", err)
	}
	confirmed := r.Relayed()
	if confirmed < 1 || confirmed > 10 || perr.From != confirmed+1 {
		t.Fatalf("relayed %d, failed batch from %d: want the batch after the confirmed first one", confirmed, perr.From)
	}
	if pos, _ := cp.Load(ctx); pos != confirmed {
		t.Fatalf("checkpoint %d, want %d (the confirmed batch)", pos, confirmed)
	}
}

// TestRelayCheckpointInterval: with a count that never triggers, the
// interval on the injected clock saves an idle relay's progress.
func TestRelayCheckpointInterval(t *testing.T) {
	ctx := t.Context()
	store := newStore(t)
	appendEvents(ctx, t, store, 3, 10, "e")
	clk := clock.NewVirtual(time.Unix(0, 0))
	cp := NewMemoryCheckpoint()
	r, err := New(store, newRecorder(nil).incarnation(nil), cp, WithClock(clk),
		WithCheckpointEvery(1000), WithCheckpointInterval(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	_, stop := runRelay(ctx, r)
	defer func() { _ = stop() }()
	eventually(t, "relayed", func() bool { return r.Relayed() == 10 })
	eventually(t, "the idle relay to wait for the interval", func() bool { return clk.Waiters() > 0 })
	if got := r.Checkpointed(); got != 0 {
		t.Fatalf("checkpointed %d before the interval", got)
	}
	clk.Advance(time.Minute)
	eventually(t, "the interval save", func() bool { return r.Checkpointed() == 10 })
	if pos, _ := cp.Load(ctx); pos != 10 || cp.Saves() != 1 {
		t.Fatalf("checkpoint %d after %d saves, want 10 after 1", pos, cp.Saves())
	}
}

func TestRelayRunsOnce(t *testing.T) {
	ctx := t.Context()
	store := newStore(t)
	r, err := New(store, newRecorder(nil).incarnation(nil), NewMemoryCheckpoint())
	if err != nil {
		t.Fatal(err)
	}
	_, stop := runRelay(ctx, r)
	eventually(t, "the first Run to start", r.running.Load)
	if err := r.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestRelayStoreClosed: the store closing ends Run with its error.
func TestRelayStoreClosed(t *testing.T) {
	store := memstore.New()
	r, err := New(store, newRecorder(nil).incarnation(nil), NewMemoryCheckpoint())
	if err != nil {
		t.Fatal(err)
	}
	done, stop := runRelay(t.Context(), r)
	defer func() { _ = stop() }()
	eventually(t, "Run to start", r.running.Load)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if err := stop(); !errors.Is(err, eventstore.ErrClosed) {
			t.Fatalf("Run = %v, want eventstore.ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop when the store closed")
	}
}

// newStore returns a memory store closed when the test ends.
func newStore(t *testing.T) *memstore.Store {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { _ = s.Close() })
	return s
}
