package record

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
)

func TestAppendOutcome(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want history.Type
	}{
		{"ok", nil, history.OK},
		{"conflict", fmt.Errorf("append: %w", &eventstore.ConcurrencyError{Stream: "s", Expected: 1, Actual: 2}), history.Fail},
		{"invalid append", fmt.Errorf("memstore: %w", eventstore.ErrInvalidAppend), history.Fail},
		{"event IDs clash", eventstore.ErrIdempotencyConflict, history.Fail},
		{"cancelled", context.Canceled, history.Info},
		{"deadline", fmt.Errorf("append: %w", context.DeadlineExceeded), history.Info},
		{"unknown error", errors.New("connection reset"), history.Info},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := appendOutcome(tt.err); got != tt.want {
				t.Fatalf("appendOutcome(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}

// TestStoreRecords: each call leaves the ops the checkers read, under the
// process of the view that made it.
func TestStoreRecords(t *testing.T) {
	ctx := t.Context()
	rec := history.NewRecorder(nil)
	inner := memstore.New()
	t.Cleanup(func() { _ = inner.Close() })
	s := NewStore(inner, rec, "w1")
	w2 := s.As("w2")
	mustVersion(ctx, t, s, "s", 0)
	if _, err := s.Append(ctx, "s", eventstore.NoStream, ev("a"), ev("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Append(ctx, "s", eventstore.NoStream, ev("c")); !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("Append = %v, want a conflict", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w2.Append(cancelled, "s", eventstore.Exact(2), ev("c")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append = %v, want cancelled", err)
	}
	if _, err := w2.Append(ctx, "s", eventstore.StreamExists, ev("c")); err != nil {
		t.Fatal(err)
	}
	mustVersion(ctx, t, w2, "s", 3)
	want := []string{
		"w1 invoke read key=s",
		"w1 ok read key=s",
		`w1 invoke append key=s msg=a seq=2 value="no-stream"`,
		`w1 ok append key=s msg=a seq=2 value="no-stream"`,
		"w1 ok commit key=s msg=a seq=1",
		"w1 ok commit key=s msg=b seq=2",
		`w2 invoke append key=s msg=c seq=1 value="no-stream"`,
		`w2 fail append key=s msg=c seq=1 value="no-stream" error="eventstore: wrong expected version on \"s\": expected no-stream, actual 2"`,
		`w2 invoke append key=s msg=c seq=1 value="2"`,
		`w2 info append key=s msg=c seq=1 value="2" error="context canceled"`,
		`w2 invoke append key=s msg=c seq=1 value="exists"`,
		`w2 ok append key=s msg=c seq=3 value="exists"`,
		"w2 ok commit key=s msg=c seq=3",
		"w2 invoke read key=s",
		"w2 ok read key=s seq=3",
	}
	ops := rec.Ops()
	if len(ops) != len(want) {
		t.Fatalf("recorded %d ops, want %d:\n%s", len(ops), len(want), render(ops))
	}
	for i, op := range ops {
		// Drop "#index time " from the rendering.
		got := strings.SplitN(op.String(), " ", 3)[2]
		if got != want[i] {
			t.Errorf("op %d = %s\nwant      %s", i, got, want[i])
		}
	}
}

func TestStoreExpectedValue(t *testing.T) {
	for e, want := range map[eventstore.ExpectedVersion]string{
		eventstore.Any: "any", eventstore.NoStream: "no-stream", eventstore.StreamExists: "exists",
		eventstore.Exact(0): "0", eventstore.Exact(17): "17",
	} {
		if got := expectedValue(e); got != want {
			t.Errorf("expectedValue(%d) = %q, want %q", int64(e), got, want)
		}
	}
}

// TestStoreConcurrentWriters: eight writers contend for two streams of a
// correct store, each through its own view, appending at the version they
// read and retrying on conflict, retrying some appends that succeeded and
// abandoning one each with a cancelled context. Both checkers find the
// recorded history valid.
func TestStoreConcurrentWriters(t *testing.T) {
	inner := memstore.New()
	t.Cleanup(func() { _ = inner.Close() })
	ops, stats := runWriters(t, inner)
	if stats.conflicts == 0 || stats.retries == 0 {
		t.Fatalf("the run exercised %d conflicts and %d retries, want some of each", stats.conflicts, stats.retries)
	}
	for _, c := range storeCheckers() {
		r := c.Check(ops)
		if !r.Valid || r.Note != "" || r.Checked == 0 {
			t.Errorf("%s: Valid = %v, Checked = %d, Note = %q\n%s", r.Invariant, r.Valid, r.Checked, r.Note, anomalies(r))
		}
	}
}

// TestStoreIgnoringExpectations: the same writers on a store that turns
// every exact expectation into Any all win the first round; both checkers
// report it, naming the stream.
func TestStoreIgnoringExpectations(t *testing.T) {
	inner := memstore.New()
	t.Cleanup(func() { _ = inner.Close() })
	ops, _ := runWriters(t, anyStore{inner})
	for _, c := range storeCheckers() {
		r := c.Check(ops)
		if r.Valid || len(r.Anomalies) == 0 {
			t.Errorf("%s: Valid = %v, want anomalies", r.Invariant, r.Valid)
			continue
		}
		for _, a := range r.Anomalies {
			if !strings.Contains(a.Summary, "stream order-") || len(a.Witness) == 0 {
				t.Errorf("%s: summary %q does not name a stream, or no witness", r.Invariant, a.Summary)
			}
		}
	}
}

// anyStore ignores optimistic concurrency: every exact expectation (and
// no-stream) becomes Any, so concurrent writers all succeed.
type anyStore struct{ eventstore.Store }

func (s anyStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...event.Envelope) (eventstore.AppendResult, error) {
	if expected >= 0 || expected == eventstore.NoStream {
		expected = eventstore.Any
	}
	return s.Store.Append(ctx, stream, expected, events...)
}

func storeCheckers() []check.Checker {
	return []check.Checker{check.OptimisticConcurrency(), check.LinearizableStore(10 * time.Second)}
}

type writerStats struct {
	mu                 sync.Mutex
	conflicts, retries int
}

func (s *writerStats) add(conflicts, retries int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conflicts += conflicts
	s.retries += retries
}

// runWriters runs eight writers over two streams of inner and returns the
// recorded history. Each writer first reads both versions and waits for
// the others, so the first appends surely contend.
func runWriters(t *testing.T, inner eventstore.Store) ([]history.Op, *writerStats) {
	t.Helper()
	const writers, streams, appends = 8, 2, 4
	rec := history.NewRecorder(nil)
	s := NewStore(inner, rec, "setup")
	stats := &writerStats{}
	var ready, done sync.WaitGroup
	ready.Add(writers)
	errs := make(chan error, writers)
	for i := range writers {
		w := s.As(fmt.Sprintf("writer-%d", i))
		done.Go(func() {
			errs <- write(t.Context(), w, i, streams, appends, &ready, stats)
		})
	}
	done.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return rec.Ops(), stats
}

// write is one writer: appends successful appends of its own events to
// each stream in turn, at the version it last read.
func write(ctx context.Context, w *Store, id, streams, appends int, ready *sync.WaitGroup, stats *writerStats) error {
	first := make([]uint64, streams)
	for s := range streams {
		v, err := w.Version(ctx, streamName(s))
		if err != nil {
			return err
		}
		first[s] = v
	}
	ready.Done()
	ready.Wait()
	conflicts, retries := 0, 0
	for n := range appends * streams {
		stream := streamName(n % streams)
		e := ev(fmt.Sprintf("w%d-%d", id, n))
		v, err := first[n%streams], error(nil)
		for attempt := 0; ; attempt++ {
			if attempt > 0 || n >= streams {
				if v, err = w.Version(ctx, stream); err != nil {
					return err
				}
			}
			_, err = w.Append(ctx, stream, eventstore.Exact(v), e)
			if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
				break
			}
			conflicts++
		}
		if err != nil {
			return err
		}
		if n%3 == 0 { // the reply was lost: the same append again
			if _, err := w.Append(ctx, stream, eventstore.Exact(v), e); err != nil {
				return fmt.Errorf("retry of %s: %w", e.ID, err)
			}
			retries++
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = w.Append(cancelled, streamName(0), eventstore.Exact(first[0]), ev(fmt.Sprintf("w%d-abandoned", id)))
	stats.add(conflicts, retries)
	return nil
}

func streamName(i int) string { return fmt.Sprintf("order-%d", i) }

func ev(id string) event.Envelope { return event.Envelope{ID: id, Type: "OrderNoted"} }

func mustVersion(ctx context.Context, t *testing.T, s *Store, stream string, want uint64) {
	t.Helper()
	if v, err := s.Version(ctx, stream); err != nil || v != want {
		t.Fatalf("Version(%s) = %d, %v; want %d", stream, v, err, want)
	}
}

func render(ops []history.Op) string {
	var b strings.Builder
	for _, op := range ops {
		b.WriteString(op.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func anomalies(r check.Result) string {
	var b strings.Builder
	for _, a := range r.Anomalies {
		fmt.Fprintf(&b, "%s\n%s", a.Summary, render(a.Witness))
	}
	return b.String()
}
