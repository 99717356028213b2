package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// Run runs the conformance suite against the backend newStore builds. Each
// sub-test gets a fresh store, which the suite closes when the sub-test ends.
func Run(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, s eventstore.Store)
	}{
		{"AppendAndReadStream", testAppendAndReadStream},
		{"Expectations", testExpectations},
		{"AtomicAppend", testAtomicAppend},
		{"InvalidAppend", testInvalidAppend},
		{"IdempotentRetry", testIdempotentRetry},
		{"IDUniqueAcrossStreams", testIDUniqueAcrossStreams},
		{"ReadStreamRange", testReadStreamRange},
		{"ReadAllRange", testReadAllRange},
		{"CopiesOut", testCopiesOut},
		{"ConcurrentExactRace", testConcurrentExactRace},
		{"ConcurrentRetryLoop", testConcurrentRetryLoop},
		{"ConcurrentBatchesContiguous", testConcurrentBatchesContiguous},
		{"SubscribeCatchUpThenLive", testSubscribeCatchUpThenLive},
		{"SubscribeFromMiddle", testSubscribeFromMiddle},
		{"SubscribeSwitchOverUnderWrites", testSubscribeSwitchOver},
		{"SubscribeSlowSubscriber", testSubscribeSlow},
		{"SubscribeCancel", testSubscribeCancel},
		{"SubscribeStoreClose", testSubscribeStoreClose},
		{"ReadStreamBackwards", testReadBackwards},
		{"MetadataMaxCount", testMetadataMaxCount},
		{"MetadataTruncateBefore", testMetadataTruncateBefore},
		{"SoftDelete", testSoftDelete},
		{"Snapshots", testSnapshots},
		{"SubscribeFiltered", testSubscribeFiltered},
		{"SubscribeStream", testSubscribeStream},
		{"SubscriptionBounded", testSubscriptionBounded},
		{"Upcasting", testUpcasting},
		{"Closed", testClosed},
		{"RandomizedModel", testRandomizedModel},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() }) // a second Close returning ErrClosed is expected
			c.fn(t, s)
		})
	}
}

func testAppendAndReadStream(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	res := mustAppend(t, s, "order-1", eventstore.NoStream, "e1", "e2")
	if res.NextExpected != 2 || res.Position != 2 {
		t.Fatalf("first append: got %+v, want NextExpected 2 Position 2", res)
	}
	res = mustAppend(t, s, "order-2", eventstore.Any, "e3")
	if res.NextExpected != 1 || res.Position != 3 {
		t.Fatalf("second append: got %+v, want NextExpected 1 Position 3", res)
	}
	res = mustAppend(t, s, "order-1", eventstore.Exact(2), "e4")
	if res.NextExpected != 3 || res.Position != 4 {
		t.Fatalf("third append: got %+v, want NextExpected 3 Position 4", res)
	}
	got, err := s.ReadStream(ctx, "order-1", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id       string
		version  uint64
		position uint64
	}{{"e1", 1, 1}, {"e2", 2, 2}, {"e4", 3, 4}}
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d: %v", len(got), len(want), ids(got))
	}
	for i, w := range want {
		e := got[i]
		if e.ID != w.id || e.Version != w.version || e.Position != w.position || e.Stream != "order-1" {
			t.Errorf("event %d: got id=%s v=%d p=%d stream=%s, want id=%s v=%d p=%d", i, e.ID, e.Version, e.Position, e.Stream, w.id, w.version, w.position)
		}
		src := ev(w.id)
		if e.Type != src.Type || string(e.Data) != string(src.Data) || e.Metadata["k"] != w.id || e.SchemaVersion != 1 {
			t.Errorf("event %d: body not preserved: %+v", i, e)
		}
		if e.Time.IsZero() {
			t.Errorf("event %d: store did not stamp Time", i)
		}
	}
}

func testExpectations(t *testing.T, s eventstore.Store) {
	t.Helper()
	cases := []struct {
		name     string
		existing bool // the stream holds two events before the append
		expected eventstore.ExpectedVersion
		ok       bool
	}{
		{"missing/any", false, eventstore.Any, true},
		{"missing/no-stream", false, eventstore.NoStream, true},
		{"missing/exact-0-is-no-stream", false, eventstore.Exact(0), true},
		{"missing/stream-exists", false, eventstore.StreamExists, false},
		{"missing/exact-1", false, eventstore.Exact(1), false},
		{"existing/any", true, eventstore.Any, true},
		{"existing/no-stream", true, eventstore.NoStream, false},
		{"existing/exact-0", true, eventstore.Exact(0), false},
		{"existing/stream-exists", true, eventstore.StreamExists, true},
		{"existing/exact-current", true, eventstore.Exact(2), true},
		{"existing/exact-behind", true, eventstore.Exact(1), false},
		{"existing/exact-ahead", true, eventstore.Exact(3), false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stream := fmt.Sprintf("stream-%d", i)
			var version uint64
			if c.existing {
				mustAppend(t, s, stream, eventstore.NoStream, stream+"-1", stream+"-2")
				version = 2
			}
			before := readAll(t, s)
			res, err := s.Append(context.Background(), stream, c.expected, ev(stream+"-new"))
			if c.ok {
				if err != nil {
					t.Fatalf("append: %v", err)
				}
				if res.NextExpected != version+1 || res.Position != uint64(len(before))+1 {
					t.Fatalf("result %+v, want NextExpected %d Position %d", res, version+1, len(before)+1)
				}
				return
			}
			var ce *eventstore.ConcurrencyError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConcurrencyError", err)
			}
			if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
				t.Errorf("errors.Is(err, ErrWrongExpectedVersion) is false for %v", err)
			}
			if ce.Stream != stream || ce.Expected != c.expected || ce.Actual != version {
				t.Errorf("ConcurrencyError %+v, want stream %s expected %v actual %d", *ce, stream, c.expected, version)
			}
			if after := readAll(t, s); len(after) != len(before) {
				t.Errorf("failed append wrote: %d events before, %d after", len(before), len(after))
			}
		})
	}
}

func testAtomicAppend(t *testing.T, s eventstore.Store) {
	t.Helper()
	mustAppend(t, s, "a", eventstore.NoStream, "a1")
	_, err := s.Append(context.Background(), "a", eventstore.Exact(5), evs("a2", "a3", "a4")...)
	if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("err = %v, want wrong expected version", err)
	}
	if got := ids(readAll(t, s)); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("after a failed 3-event append the log is %v, want [a1]", got)
	}
	// The failed events' IDs are not burnt: they can be appended afterwards.
	res := mustAppend(t, s, "a", eventstore.Exact(1), "a2", "a3", "a4")
	if res.NextExpected != 4 || res.Position != 4 {
		t.Fatalf("result %+v, want NextExpected 4 Position 4", res)
	}
}

func testInvalidAppend(t *testing.T, s eventstore.Store) {
	t.Helper()
	mustAppend(t, s, "s", eventstore.NoStream, "s1")
	cases := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		events   []event.Envelope
	}{
		{"empty-stream", "", eventstore.Any, evs("n1")},
		{"no-events", "s", eventstore.Any, nil},
		{"empty-id", "s", eventstore.Any, []event.Envelope{ev("n2"), {Type: "T"}}},
		{"duplicate-id-in-call", "s", eventstore.Any, evs("n3", "n3")},
		{"unknown-expectation", "s", eventstore.ExpectedVersion(-9), evs("n4")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Append(context.Background(), c.stream, c.expected, c.events...)
			if !errors.Is(err, eventstore.ErrInvalidAppend) {
				t.Fatalf("err = %v, want ErrInvalidAppend", err)
			}
			if got := ids(readAll(t, s)); !slices.Equal(got, []string{"s1"}) {
				t.Fatalf("invalid append changed the log: %v", got)
			}
		})
	}
}

func testIdempotentRetry(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	mustAppend(t, s, "s", eventstore.NoStream, "x")
	exact := mustAppend(t, s, "s", eventstore.Exact(1), "a", "b")   // versions 2,3
	anyRes := mustAppend(t, s, "s", eventstore.Any, "c")            // version 4
	fresh := mustAppend(t, s, "t", eventstore.NoStream, "t1", "t2") // t versions 1,2
	mustAppend(t, s, "s", eventstore.Exact(4), "d")                 // the stream moves on
	total := len(readAll(t, s))

	type want struct {
		res      eventstore.AppendResult
		wrongExp bool
		conflict bool
	}
	cases := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		ids      []string
		want     want
	}{
		{"exact-same-expectation", "s", eventstore.Exact(1), []string{"a", "b"}, want{res: exact}},
		{"any", "s", eventstore.Any, []string{"c"}, want{res: anyRes}},
		{"any-for-exact-append", "s", eventstore.Any, []string{"a", "b"}, want{res: exact}},
		{"stream-exists", "s", eventstore.StreamExists, []string{"a", "b"}, want{res: exact}},
		{"no-stream", "t", eventstore.NoStream, []string{"t1", "t2"}, want{res: fresh}},
		{"exact-0-for-new-stream", "t", eventstore.Exact(0), []string{"t1", "t2"}, want{res: fresh}},
		{"consecutive-subset", "s", eventstore.Any, []string{"b", "c"}, want{res: eventstore.AppendResult{NextExpected: 4, Position: anyRes.Position}}},
		{"exact-wrong-place", "s", eventstore.Exact(2), []string{"a", "b"}, want{wrongExp: true}},
		{"no-stream-wrong-place", "s", eventstore.NoStream, []string{"a", "b"}, want{wrongExp: true}},
		{"partial-overlap", "s", eventstore.Any, []string{"b", "new"}, want{conflict: true}},
		{"out-of-order", "s", eventstore.Any, []string{"b", "a"}, want{conflict: true}},
		{"gap", "s", eventstore.Any, []string{"a", "c"}, want{conflict: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := s.Append(ctx, c.stream, c.expected, evs(c.ids...)...)
			switch {
			case c.want.wrongExp:
				var ce *eventstore.ConcurrencyError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want *ConcurrencyError", err)
				}
			case c.want.conflict:
				if !errors.Is(err, eventstore.ErrIdempotencyConflict) {
					t.Fatalf("err = %v, want ErrIdempotencyConflict", err)
				}
			default:
				if err != nil {
					t.Fatalf("retry: %v", err)
				}
				if res != c.want.res {
					t.Fatalf("retry result %+v, want the original %+v", res, c.want.res)
				}
			}
			if n := len(readAll(t, s)); n != total {
				t.Fatalf("retry changed the log: %d events, want %d", n, total)
			}
		})
	}
}

func testIDUniqueAcrossStreams(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	mustAppend(t, s, "one", eventstore.NoStream, "shared")
	for _, exp := range []eventstore.ExpectedVersion{eventstore.Any, eventstore.NoStream} {
		_, err := s.Append(ctx, "two", exp, ev("shared"))
		if !errors.Is(err, eventstore.ErrIdempotencyConflict) {
			t.Fatalf("append of an ID stored in another stream (%v): err = %v, want ErrIdempotencyConflict", exp, err)
		}
	}
	if _, err := s.ReadStream(ctx, "two", 1, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("stream two: err = %v, want ErrStreamNotFound", err)
	}
}

// seedTwoStreams writes a1..a5 to "a" interleaved with b1..b3 to "b".
func seedTwoStreams(t *testing.T, s eventstore.Store) {
	t.Helper()
	for i := 1; i <= 5; i++ {
		mustAppend(t, s, "a", eventstore.Any, fmt.Sprintf("a%d", i))
		if i <= 3 {
			mustAppend(t, s, "b", eventstore.Any, fmt.Sprintf("b%d", i))
		}
	}
}

func testReadStreamRange(t *testing.T, s eventstore.Store) {
	t.Helper()
	seedTwoStreams(t, s)
	cases := []struct {
		name   string
		stream string
		from   uint64
		limit  int
		want   []string
	}{
		{"all", "a", 1, 0, []string{"a1", "a2", "a3", "a4", "a5"}},
		{"negative-limit", "a", 1, -1, []string{"a1", "a2", "a3", "a4", "a5"}},
		{"from-and-limit", "a", 2, 2, []string{"a2", "a3"}},
		{"limit-past-end", "b", 2, 10, []string{"b2", "b3"}},
		{"last", "b", 3, 0, []string{"b3"}},
		{"past-end", "a", 6, 0, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.ReadStream(context.Background(), c.stream, c.from, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), c.want) {
				t.Fatalf("got %v, want %v", ids(got), c.want)
			}
			for i, e := range got {
				if e.Version != c.from+uint64(i) || e.Stream != c.stream {
					t.Fatalf("event %s: version %d stream %s", e.ID, e.Version, e.Stream)
				}
				if i > 0 && e.Position <= got[i-1].Position {
					t.Fatalf("positions not increasing: %d after %d", e.Position, got[i-1].Position)
				}
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := s.ReadStream(context.Background(), "nope", 1, 0)
		if !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("err = %v, want ErrStreamNotFound", err)
		}
	})
}

func testReadAllRange(t *testing.T, s eventstore.Store) {
	t.Helper()
	empty, err := s.ReadAll(context.Background(), 1, 0)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty store: %v, %v", ids(empty), err)
	}
	seedTwoStreams(t, s)
	order := []string{"a1", "b1", "a2", "b2", "a3", "b3", "a4", "a5"}
	cases := []struct {
		name  string
		from  uint64
		limit int
		want  []string
	}{
		{"all", 1, 0, order},
		{"negative-limit", 1, -3, order},
		{"from-and-limit", 3, 2, order[2:4]},
		{"tail", 7, 100, order[6:]},
		{"past-end", 9, 0, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.ReadAll(context.Background(), c.from, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), c.want) {
				t.Fatalf("got %v, want %v", ids(got), c.want)
			}
			checkPositions(t, got, c.from)
		})
	}
}

func testCopiesOut(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	in := ev("c1")
	if _, err := s.Append(ctx, "c", eventstore.NoStream, in); err != nil {
		t.Fatal(err)
	}
	in.Metadata["k"] = "changed-after-append"
	in.Data[0] = 'X'

	first, err := s.ReadStream(ctx, "c", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	first[0].Metadata["k"] = "changed-after-read"
	first[0].Data[0] = 'Y'
	all := readAll(t, s)
	all[0].Metadata["k"] = "changed-after-read-all"

	again, err := s.ReadStream(ctx, "c", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := ev("c1")
	if again[0].Metadata["k"] != "c1" || string(again[0].Data) != string(want.Data) {
		t.Fatalf("stored event was changed through a caller's copy: %+v", again[0])
	}
}

// testConcurrentExactRace has N writers race at the same expected version,
// round after round: exactly one wins each version.
func testConcurrentExactRace(t *testing.T, s eventstore.Store) {
	t.Helper()
	const rounds, writers = 20, 8
	for r := 0; r < rounds; r++ {
		expected := eventstore.Exact(uint64(r))
		if r == 0 {
			expected = eventstore.NoStream
		}
		start := make(chan struct{})
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[w] = s.Append(context.Background(), "race", expected, ev(fmt.Sprintf("r%d-w%d", r, w)))
			}()
		}
		close(start)
		wg.Wait()
		winners := 0
		for w, err := range errs {
			if err == nil {
				winners++
				continue
			}
			var ce *eventstore.ConcurrencyError
			if !errors.As(err, &ce) {
				t.Fatalf("round %d writer %d: err = %v, want *ConcurrencyError", r, w, err)
			}
			if ce.Actual != uint64(r)+1 {
				t.Fatalf("round %d writer %d: Actual %d, want %d", r, w, ce.Actual, r+1)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1", r, winners)
		}
	}
	got, err := s.ReadStream(context.Background(), "race", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != rounds {
		t.Fatalf("stream has %d events, want %d", len(got), rounds)
	}
	for i, e := range got {
		if e.Version != uint64(i)+1 {
			t.Fatalf("versions not contiguous: %d at index %d", e.Version, i)
		}
	}
}

// testConcurrentRetryLoop has writers append with optimistic concurrency,
// learning the current version from each ConcurrencyError: every append lands
// once, each version has one winner, and versions are contiguous.
func testConcurrentRetryLoop(t *testing.T, s eventstore.Store) {
	t.Helper()
	const writers, each = 6, 25
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		landed  = make(map[uint64]string)
		failure error
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var version uint64
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				for {
					res, err := s.Append(context.Background(), "loop", eventstore.Exact(version), ev(id))
					var ce *eventstore.ConcurrencyError
					if errors.As(err, &ce) {
						version = ce.Actual
						continue
					}
					mu.Lock()
					if err != nil && failure == nil {
						failure = err
					} else if err == nil {
						if prev, dup := landed[res.NextExpected]; dup {
							failure = fmt.Errorf("version %d won by both %s and %s", res.NextExpected, prev, id)
						}
						landed[res.NextExpected] = id
					}
					mu.Unlock()
					version = res.NextExpected
					break
				}
			}
		}()
	}
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
	got, err := s.ReadStream(context.Background(), "loop", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each || len(landed) != writers*each {
		t.Fatalf("stream has %d events, %d acknowledged, want %d", len(got), len(landed), writers*each)
	}
	for i, e := range got {
		if e.Version != uint64(i)+1 || landed[e.Version] != e.ID {
			t.Fatalf("version %d holds %s, acknowledged to %s", e.Version, e.ID, landed[e.Version])
		}
	}
}

// testConcurrentBatchesContiguous checks atomicity under concurrency: the
// events of one append occupy adjacent global positions.
func testConcurrentBatchesContiguous(t *testing.T, s eventstore.Store) {
	t.Helper()
	const writers, batches, size = 4, 20, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				batch := make([]string, size)
				for i := range batch {
					batch[i] = fmt.Sprintf("w%d-b%d-%d", w, b, i)
				}
				if _, err := s.Append(context.Background(), fmt.Sprintf("w%d", w), eventstore.Any, evs(batch...)...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := readAll(t, s)
	if len(all) != writers*batches*size {
		t.Fatalf("log has %d events, want %d", len(all), writers*batches*size)
	}
	checkPositions(t, all, 1)
	for i := 0; i < len(all); i += size {
		var w, b int
		if _, err := fmt.Sscanf(all[i].ID, "w%d-b%d-0", &w, &b); err != nil {
			t.Fatalf("position %d holds %s, want the first event of a batch", i+1, all[i].ID)
		}
		for j := 1; j < size; j++ {
			if want := fmt.Sprintf("w%d-b%d-%d", w, b, j); all[i+j].ID != want {
				t.Fatalf("position %d holds %s, want %s: batch interleaved", i+j+1, all[i+j].ID, want)
			}
		}
	}
}
