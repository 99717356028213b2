package inboxtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Run checks the Inbox contract on inboxes made by newInbox, one per
// subtest (newInbox registers its own cleanup with t).
func Run(t *testing.T, newInbox func(t *testing.T) bus.Inbox) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.fn(t.Context(), newInbox(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// cases are the contract, each a function that returns what it found
// wrong, so the suite's own tests can run them against broken inboxes.
var cases = []struct {
	name string
	fn   func(context.Context, bus.Inbox) error
}{
	{"claim, in flight, done", claimDone},
	{"abort releases the claim", abort},
	{"abort after done keeps it done", abortAfterDone},
	{"done without begin records it", doneWithoutBegin},
	{"done twice", doneTwice},
	{"groups are independent", groups},
	{"group and id do not run together", keyBoundaries},
	{"concurrent begin on one id: one winner", concurrentOneID},
	{"concurrent distinct ids", concurrentDistinct},
	{"dedup runs the handler once per id", dedup},
}

// script runs steps in order and returns the first that went wrong.
type script struct {
	ctx context.Context
	in  bus.Inbox
	err error
}

// begin expects one Begin's outcome: "first", "dup" (processed) or
// "inflight" (an error wrapping bus.ErrInFlight).
func (s *script) begin(group, id, want string) {
	if s.err != nil {
		return
	}
	first, err := s.in.Begin(s.ctx, group, id)
	if got := outcome(first, err); got != want {
		s.err = fmt.Errorf("Begin(%q, %q) = %v, %w (%s); want %s", group, id, first, err, got, want)
	}
}

func (s *script) done(group, id string) {
	if s.err == nil {
		if err := s.in.Done(s.ctx, group, id); err != nil {
			s.err = fmt.Errorf("Done(%q, %q): %w", group, id, err)
		}
	}
}

func (s *script) abort(group, id string) {
	if s.err == nil {
		if err := s.in.Abort(s.ctx, group, id); err != nil {
			s.err = fmt.Errorf("Abort(%q, %q): %w", group, id, err)
		}
	}
}

func outcome(first bool, err error) string {
	switch {
	case errors.Is(err, bus.ErrInFlight):
		return "inflight"
	case err != nil:
		return "error: " + err.Error()
	case first:
		return "first"
	default:
		return "dup"
	}
}

func claimDone(ctx context.Context, in bus.Inbox) error {
	s := &script{ctx: ctx, in: in}
	s.begin("g", "m1", "first")
	s.begin("g", "m1", "inflight")
	s.done("g", "m1")
	s.begin("g", "m1", "dup")
	s.begin("g", "m1", "dup")
	s.begin("g", "m2", "first")
	return s.err
}

func abort(ctx context.Context, in bus.Inbox) error {
	s := &script{ctx: ctx, in: in}
	s.begin("g", "m1", "first")
	s.abort("g", "m1")
	s.begin("g", "m1", "first")
	s.done("g", "m1")
	s.begin("g", "m1", "dup")
	// Aborting what was never claimed is harmless.
	s.abort("g", "never")
	s.begin("g", "never", "first")
	return s.err
}

func abortAfterDone(ctx context.Context, in bus.Inbox) error {
	s := &script{ctx: ctx, in: in}
	s.begin("g", "m1", "first")
	s.done("g", "m1")
	s.abort("g", "m1")
	s.begin("g", "m1", "dup")
	return s.err
}

func doneWithoutBegin(ctx context.Context, in bus.Inbox) error {
	s := &script{ctx: ctx, in: in}
	s.done("g", "m1")
	s.begin("g", "m1", "dup")
	return s.err
}

func doneTwice(ctx context.Context, in bus.Inbox) error {
	s := &script{ctx: ctx, in: in}
	s.begin("g", "m1", "first")
	s.done("g", "m1")
	s.done("g", "m1")
	s.begin("g", "m1", "dup")
	return s.err
}

func groups(ctx context.Context, in bus.Inbox) error {
	s := &script{ctx: ctx, in: in}
	s.begin("billing", "m1", "first")
	s.begin("shipping", "m1", "first")
	s.done("billing", "m1")
	s.begin("billing", "m1", "dup")
	s.begin("shipping", "m1", "inflight")
	s.abort("shipping", "m1")
	s.begin("shipping", "m1", "first")
	return s.err
}

// keyBoundaries: an inbox that joins group and id into one key must keep
// ("a", "bc") and ("ab", "c") apart, whatever bytes they hold.
func keyBoundaries(ctx context.Context, in bus.Inbox) error {
	s := &script{ctx: ctx, in: in}
	pairs := [][2]string{{"a", "bc"}, {"ab", "c"}, {"a\x00b", "c"}, {"a", "\x00bc"}, {"a/b", "c"}, {"a", "b/c"}, {"", "abc"}, {"abc", ""}, {"é", "ü"}}
	for _, p := range pairs {
		s.begin(p[0], p[1], "first")
		s.done(p[0], p[1])
	}
	for _, p := range pairs {
		s.begin(p[0], p[1], "dup")
	}
	return s.err
}

// concurrentOneID races Begins on one ID, round after round: exactly one
// may win, the rest must see it in flight.
func concurrentOneID(ctx context.Context, in bus.Inbox) error {
	for round := range 20 {
		id := fmt.Sprintf("m%d", round)
		if err := OneWinner(ctx, in, "g", id, 16); err != nil {
			return err
		}
		if err := in.Done(ctx, "g", id); err != nil {
			return err
		}
	}
	return nil
}

// ErrNotOneWinner is returned by OneWinner when concurrent Begins on one ID
// did not produce exactly one claim.
var ErrNotOneWinner = errors.New("inboxtest: concurrent Begins did not produce exactly one winner")

// OneWinner starts racers concurrent Begins of (group, id) and checks that
// exactly one claims it and every other sees it in flight. It leaves the
// winner's claim held.
func OneWinner(ctx context.Context, in bus.Inbox, group, id string, racers int) error {
	outcomes := make(chan string, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			first, err := in.Begin(ctx, group, id)
			outcomes <- outcome(first, err)
		}()
	}
	close(start)
	wg.Wait()
	close(outcomes)
	count := map[string]int{}
	for o := range outcomes {
		count[o]++
	}
	if count["first"] != 1 || count["inflight"] != racers-1 {
		return fmt.Errorf("%d Begins of %s/%s: %v: %w", racers, group, id, count, ErrNotOneWinner)
	}
	return nil
}

func concurrentDistinct(ctx context.Context, in bus.Inbox) error {
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				first, err := in.Begin(ctx, "g", id)
				if err != nil || !first {
					errs <- fmt.Errorf("Begin %s = %v, %w; want a first claim", id, first, err)
					return
				}
				if err := in.Done(ctx, "g", id); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(collect(errs)...); err != nil {
		return err
	}
	s := &script{ctx: ctx, in: in}
	for w := range workers {
		for i := range each {
			s.begin("g", fmt.Sprintf("w%d-%d", w, i), "dup")
		}
	}
	return s.err
}

func collect(c <-chan error) []error {
	var out []error
	for err := range c {
		out = append(out, err)
	}
	return out
}

// dedup drives the inbox through bus.Dedup: a duplicate is skipped and a
// failed attempt released, so each message's effect happens once.
func dedup(ctx context.Context, in bus.Inbox) error {
	effects := map[string]int{}
	failNext := true
	h := bus.Dedup(in, "g")(func(_ context.Context, m *bus.Message) error {
		if m.ID == "flaky" && failNext {
			failNext = false
			return errors.New("transient")
		}
		effects[m.ID]++
		return nil
	})
	for _, id := range []string{"a", "b", "a", "flaky", "flaky", "b", "flaky"} {
		if err := h(ctx, &bus.Message{ID: id}); err != nil && id != "flaky" {
			return fmt.Errorf("handle %s: %w", id, err)
		}
	}
	for _, id := range []string{"a", "b", "flaky"} {
		if effects[id] != 1 {
			return fmt.Errorf("effects %v: want each message's effect once", effects)
		}
	}
	return nil
}

// Begin calls in.Begin and fails tb unless the outcome is want: "first"
// (claimed), "dup" (already processed) or "inflight" (an error wrapping
// bus.ErrInFlight). Backends use it in their own tests (reopen, retention).
func Begin(ctx context.Context, tb testing.TB, in bus.Inbox, group, id, want string) {
	tb.Helper()
	s := &script{ctx: ctx, in: in}
	if s.begin(group, id, want); s.err != nil {
		tb.Fatal(s.err)
	}
}
