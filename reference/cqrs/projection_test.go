package cqrs_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/cqrs"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
	"github.com/edkit-dev/edkit/scenarios/fixture"
)

// waitTimeout bounds every wait, so a broken runner fails in seconds.
const waitTimeout = 5 * time.Second

// deposited is the body of a "deposited" event.
type deposited struct {
	Account string `json:"account"`
	Amount  int    `json:"amount"`
}

func depositEvent(account string, amount int) event.Envelope {
	return fixture.Event("deposited", deposited{Account: account, Amount: amount})
}

// balances is the projection under test: a balance per account, the sum of
// its deposits, under "balance/"+account. Counting is not idempotent by
// itself, which is what makes it a test of the runner.
var balances = cqrs.ProjectionFunc(func(s cqrs.Storage, e event.Envelope) (map[string][]byte, error) {
	if e.Type != "deposited" {
		return nil, nil
	}
	var d deposited
	if err := e.Decode(&d); err != nil {
		return nil, err
	}
	n, err := balanceOf(s, d.Account)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"balance/" + d.Account: []byte(strconv.Itoa(n + d.Amount))}, nil
})

func balanceOf(s cqrs.Storage, account string) (int, error) {
	v, ok := s.Get("balance/" + account)
	if !ok {
		return 0, nil
	}
	return strconv.Atoi(string(v))
}

// balanceView is the read model of accounts a and b.
func balanceView(s cqrs.Storage) (map[string]int, error) {
	view := map[string]int{}
	for _, a := range []string{"a", "b"} {
		n, err := balanceOf(s, a)
		if err != nil {
			return nil, err
		}
		view[a] = n
	}
	return view, nil
}

// checkpointed is the runner as the crash fixture drives it: a runner per
// call over the storage the fixture gives, which holds all its state.
func checkpointed(p cqrs.Projection) fixture.Checkpointed {
	return fixture.Checkpointed{
		Checkpoint: func(s fixture.Storage) (uint64, error) {
			return cqrs.NewProjectionRunner(nil, s, "balances", p).Checkpoint()
		},
		Handle: func(s fixture.Storage, e event.Envelope) error {
			return cqrs.NewProjectionRunner(nil, s, "balances", p).HandleEvent(e)
		},
		View: func(s fixture.Storage) (any, error) { return balanceView(s) },
	}
}

// twoPuts is a broken runner: the checkpoint and the writes in separate
// Puts, checkpoint first or writes first.
func twoPuts(checkpointFirst bool) fixture.Checkpointed {
	p := checkpointed(balances)
	p.Handle = func(s fixture.Storage, e event.Envelope) error {
		if cp, err := p.Checkpoint(s); err != nil || e.Position <= cp {
			return err
		}
		writes, err := balances.Apply(s, e)
		if err != nil {
			return err
		}
		puts := []map[string][]byte{writes, {"checkpoint/balances": []byte(strconv.FormatUint(e.Position, 10))}}
		if checkpointFirst {
			puts[0], puts[1] = puts[1], puts[0]
		}
		for _, pairs := range puts {
			if err := s.Put(pairs); err != nil {
				return err
			}
		}
		return nil
	}
	return p
}

// recorder is a fixture.T that keeps what the fixture reports.
type recorder struct{ errs []string }

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

var crashEvents = []event.Envelope{
	depositEvent("a", 10),
	depositEvent("b", 5),
	fixture.Event("renamed", nil), // writes nothing, still moves the checkpoint
	depositEvent("a", 7),
}

func TestProjectionRunnerSurvivesCrashes(t *testing.T) {
	fixture.ForCheckpointed(t, checkpointed(balances)).
		Given(crashEvents...).
		ThenSurvivesCrashes(map[string]int{"a": 17, "b": 5})
}

// TestBrokenRunnerFailsCrashTest shows the crash test can fail: each
// two-Put runner is caught at the second write, where a crash falls
// between the event's two Puts.
func TestBrokenRunnerFailsCrashTest(t *testing.T) {
	tests := []struct {
		name            string
		checkpointFirst bool
		// shows is how the read model is wrong: the first event lost, or
		// counted twice.
		shows string
	}{
		{"checkpoint first loses the event", true, `"a": 7,`},
		{"writes first count it twice", false, `"a": 27,`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r recorder
			fixture.ForCheckpointed(&r, twoPuts(tc.checkpointFirst)).
				Given(crashEvents...).
				ThenSurvivesCrashes(map[string]int{"a": 17, "b": 5})
			if len(r.errs) != 1 {
				t.Fatalf("reported %d failures %q, want 1", len(r.errs), r.errs)
			}
			for _, want := range []string{"with a crash at write 2 of 8", "the read model differs", tc.shows} {
				if !strings.Contains(r.errs[0], want) {
					t.Fatalf("report lacks %q:\n%s", want, r.errs[0])
				}
			}
		})
	}
}

// countingStorage counts Puts over a MemoryStorage.
type countingStorage struct {
	cqrs.MemoryStorage
	puts atomic.Int64
}

func (c *countingStorage) Put(pairs map[string][]byte) error {
	c.puts.Add(1)
	return c.MemoryStorage.Put(pairs)
}

// countingProjection counts Apply calls and records their positions.
type countingProjection struct {
	cqrs.Projection
	mu        sync.Mutex
	positions []uint64
}

func (c *countingProjection) Apply(s cqrs.Storage, e event.Envelope) (map[string][]byte, error) {
	c.mu.Lock()
	c.positions = append(c.positions, e.Position)
	c.mu.Unlock()
	return c.Projection.Apply(s, e)
}

func (c *countingProjection) applied() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint64(nil), c.positions...)
}

func at(e event.Envelope, position uint64) event.Envelope {
	e.Position = position
	return e
}

func TestHandleEventRedelivery(t *testing.T) {
	first, second := at(depositEvent("a", 10), 1), at(depositEvent("a", 5), 2)
	tests := []struct {
		name  string
		again event.Envelope
	}{
		{"same event again", second},
		{"earlier event again", first},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s countingStorage
			p := &countingProjection{Projection: balances}
			r := cqrs.NewProjectionRunner(nil, &s, "balances", p)
			for _, e := range []event.Envelope{first, second} {
				if err := r.HandleEvent(e); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, r, &s)
			puts, applies := s.puts.Load(), len(p.applied())

			if err := r.HandleEvent(tc.again); err != nil {
				t.Fatal(err)
			}
			if got := snapshot(t, r, &s); got != before {
				t.Fatalf("redelivery changed storage: %s, was %s", got, before)
			}
			if s.puts.Load() != puts || len(p.applied()) != applies {
				t.Fatalf("redelivery wrote %d times and applied %d times, want neither",
					s.puts.Load()-puts, len(p.applied())-applies)
			}
			if before != "checkpoint 2, a 15" {
				t.Fatalf("after both events: %s, want checkpoint 2, a 15", before)
			}
		})
	}
}

func snapshot(t *testing.T, r *cqrs.ProjectionRunner, s cqrs.Storage) string {
	t.Helper()
	cp, err := r.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	a, err := balanceOf(s, "a")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("checkpoint %d, a %d", cp, a)
}

// errStorage refuses every Put.
type errStorage struct{ cqrs.MemoryStorage }

var errDiskFull = errors.New("disk full")

func (*errStorage) Put(map[string][]byte) error { return errDiskFull }

func TestHandleEventErrors(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		storage func() cqrs.Storage
		p       cqrs.Projection
		e       event.Envelope
		want    error
	}{
		{"no position", memory, balances, depositEvent("a", 1), cqrs.ErrNoPosition},
		{"projection fails", memory, cqrs.ProjectionFunc(func(cqrs.Storage, event.Envelope) (map[string][]byte, error) {
			return nil, errBoom
		}), at(depositEvent("a", 1), 1), errBoom},
		{"writes the checkpoint", memory, cqrs.ProjectionFunc(func(cqrs.Storage, event.Envelope) (map[string][]byte, error) {
			return map[string][]byte{"checkpoint/balances": []byte("99")}, nil
		}), at(depositEvent("a", 1), 1), cqrs.ErrCheckpointKey},
		{"storage fails", func() cqrs.Storage { return &errStorage{} }, balances, at(depositEvent("a", 1), 1), errDiskFull},
		{"unreadable checkpoint", func() cqrs.Storage {
			s := memory()
			_ = s.Put(map[string][]byte{"checkpoint/balances": []byte("seven")})
			return s
		}, balances, at(depositEvent("a", 1), 1), cqrs.ErrBadCheckpoint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.storage()
			r := cqrs.NewProjectionRunner(nil, s, "balances", tc.p)
			if err := r.HandleEvent(tc.e); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if _, ok := s.Get("balance/a"); ok {
				t.Fatal("a failed event wrote the read model")
			}
		})
	}
}

func memory() cqrs.Storage { return &cqrs.MemoryStorage{} }

func TestMemoryStorageCopies(t *testing.T) {
	var s cqrs.MemoryStorage
	v := []byte("1")
	if err := s.Put(map[string][]byte{"k": v}); err != nil {
		t.Fatal(err)
	}
	v[0] = '2'
	got, _ := s.Get("k")
	got[0] = '3'
	if again, ok := s.Get("k"); !ok || string(again) != "1" {
		t.Fatalf("stored value %q, want 1: Put or Get shares memory with its caller", again)
	}
	if _, ok := s.Get("missing"); ok {
		t.Fatal("missing key found")
	}
}

// running is a runner started on a goroutine, with a signal per applied
// event to wait on.
type running struct {
	r        *cqrs.ProjectionRunner
	p        *countingProjection
	progress chan struct{}
	cancel   context.CancelFunc
	done     chan error
}

func startRunner(t *testing.T, store eventstore.Store, s cqrs.Storage) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	run := &running{p: &countingProjection{Projection: balances}, progress: make(chan struct{}, 1), cancel: cancel, done: make(chan error, 1)}
	run.r = cqrs.NewProjectionRunner(store, s, "balances", run.p, cqrs.WithOnApplied(func(event.Envelope) {
		select {
		case run.progress <- struct{}{}:
		default: // a signal is pending already
		}
	}))
	go func() { run.done <- run.r.Run(ctx) }()
	t.Cleanup(cancel)
	return run
}

// waitFor waits, up to waitTimeout, for the checkpoint to reach position.
func (run *running) waitFor(t *testing.T, position uint64) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		cp, err := run.r.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		if cp >= position {
			return
		}
		select {
		case <-run.progress:
		case err := <-run.done:
			t.Fatalf("Run returned %v at checkpoint %d, before position %d", err, cp, position)
		case <-deadline.C:
			t.Fatalf("checkpoint %d after %s, want %d", cp, waitTimeout, position)
		}
	}
}

// stop cancels the runner and returns what Run returned.
func (run *running) stop(t *testing.T) error {
	t.Helper()
	run.cancel()
	select {
	case err := <-run.done:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("Run did not return within %s of its context's cancellation", waitTimeout)
		return nil
	}
}

// appendDeposits appends one event per deposit and returns the last one's
// global position.
func appendDeposits(t *testing.T, store *memstore.Store, deposits ...deposited) uint64 {
	t.Helper()
	var last uint64
	for _, d := range deposits {
		e := depositEvent(d.Account, d.Amount)
		e.ID = fmt.Sprintf("deposit-%d", store.LastPosition()+1)
		res, err := store.Append(t.Context(), "account-"+d.Account, eventstore.Any, e)
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	return last
}

func TestRunResumesFromCheckpoint(t *testing.T) {
	store := newStore(t)
	var s cqrs.MemoryStorage

	// Catch-up, then live.
	appendDeposits(t, store, deposited{"a", 10}, deposited{"b", 5}, deposited{"a", 1})
	first := startRunner(t, store, &s)
	first.waitFor(t, 3)
	live := appendDeposits(t, store, deposited{"b", 2}, deposited{"a", 4})
	first.waitFor(t, live)
	if err := first.stop(t); err != nil {
		t.Fatalf("Run after cancel: %v, want nil", err)
	}
	stoppedAt, err := first.r.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}

	// While it is down, more events; a new runner over the same storage
	// picks up after its checkpoint.
	last := appendDeposits(t, store, deposited{"a", 100}, deposited{"b", 200})
	from := &subscribeFrom{Store: store}
	second := startRunner(t, from, &s)
	second.waitFor(t, last)
	if err := second.stop(t); err != nil {
		t.Fatalf("second Run after cancel: %v, want nil", err)
	}

	if got := from.from.Load(); got != stoppedAt+1 {
		t.Fatalf("second runner subscribed from %d, want %d (after checkpoint %d)", got, stoppedAt+1, stoppedAt)
	}
	if got, want := second.p.applied(), positions(stoppedAt+1, last); !equal(got, want) {
		t.Fatalf("second runner applied positions %v, want %v (resuming after checkpoint %d)", got, want, stoppedAt)
	}
	if got, want := first.p.applied(), positions(1, stoppedAt); !equal(got, want) {
		t.Fatalf("first runner applied positions %v, want %v", got, want)
	}
	view, err := balanceView(&s)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"a": 115, "b": 207}; !maps.Equal(view, want) {
		t.Fatalf("view %v, want %v: each event counted once", view, want)
	}
}

// subscribeFrom records where SubscribeAll was asked to start.
type subscribeFrom struct {
	eventstore.Store
	from atomic.Uint64
}

func (s *subscribeFrom) SubscribeAll(ctx context.Context, from uint64, opts ...eventstore.SubscribeOption) (*eventstore.Subscription, error) {
	s.from.Store(from)
	return s.Store.SubscribeAll(ctx, from, opts...)
}

func positions(from, to uint64) []uint64 {
	var out []uint64
	for p := from; p <= to; p++ {
		out = append(out, p)
	}
	return out
}

func equal(a, b []uint64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestRunErrors(t *testing.T) {
	errBoom := errors.New("boom")
	failAt2 := cqrs.ProjectionFunc(func(s cqrs.Storage, e event.Envelope) (map[string][]byte, error) {
		if e.Position == 2 {
			return nil, errBoom
		}
		return balances.Apply(s, e)
	})
	tests := []struct {
		name    string
		p       cqrs.Projection
		prepare func(*memstore.Store, cqrs.Storage)
		// cancelled cancels Run's context before Run starts.
		cancelled bool
		want      error
		// checkpoint, when not 0, is where Run must have left it.
		checkpoint uint64
	}{
		{name: "projection fails", p: failAt2, want: errBoom, checkpoint: 1},
		{name: "store closed", p: balances, prepare: func(store *memstore.Store, _ cqrs.Storage) { _ = store.Close() }, want: eventstore.ErrClosed},
		{name: "unreadable checkpoint", p: balances, prepare: func(_ *memstore.Store, s cqrs.Storage) {
			_ = s.Put(map[string][]byte{"checkpoint/balances": []byte("-1")})
		}, want: cqrs.ErrBadCheckpoint},
		{name: "cancelled before", p: balances, cancelled: true, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t)
			appendDeposits(t, store, deposited{"a", 1}, deposited{"a", 2})
			var s cqrs.MemoryStorage
			if tc.prepare != nil {
				tc.prepare(store, &s)
			}
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()
			if tc.cancelled {
				cancel()
			}
			err := cqrs.NewProjectionRunner(store, &s, "balances", tc.p).Run(ctx)
			if !errors.Is(err, tc.want) { // errors.Is(nil, nil) holds
				t.Fatalf("Run = %v, want %v", err, tc.want)
			}
			if tc.checkpoint > 0 {
				if cp, _ := cqrs.NewProjectionRunner(store, &s, "balances", tc.p).Checkpoint(); cp != tc.checkpoint {
					t.Fatalf("checkpoint %d, want %d", cp, tc.checkpoint)
				}
			}
		})
	}
}
