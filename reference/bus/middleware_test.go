package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
)

// fakeClock records sleeps and returns at once, or fails when ctx is done.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

var errBoom = errors.New("boom")

func TestRetry(t *testing.T) {
	backoff := func(n int) time.Duration { return time.Duration(n) * time.Second }
	tests := []struct {
		name        string
		max         int
		failFirst   int   // attempts that fail before success
		failErr     error // error the failing attempts return
		wantCalls   int
		wantSleeps  []time.Duration
		wantErr     bool
		wantExhaust bool
		wantAttempt int // bus.Attempts(err)
	}{
		{name: "succeeds first", max: 3, failFirst: 0, failErr: errBoom, wantCalls: 1},
		{name: "succeeds on third", max: 3, failFirst: 2, failErr: errBoom, wantCalls: 3,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second}},
		{name: "exhausted", max: 3, failFirst: 99, failErr: errBoom, wantCalls: 3,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second}, wantErr: true, wantExhaust: true, wantAttempt: 3},
		{name: "permanent not retried", max: 5, failFirst: 99, failErr: bus.Permanent(errBoom), wantCalls: 1,
			wantErr: true, wantAttempt: 1},
		{name: "max below one means one", max: 0, failFirst: 99, failErr: errBoom, wantCalls: 1,
			wantErr: true, wantExhaust: true, wantAttempt: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{}
			var calls int
			var seen []int
			h := bus.Retry(tt.max, backoff, clk)(func(ctx context.Context, m *bus.Message) error {
				calls++
				seen = append(seen, bus.AttemptFrom(ctx))
				if calls <= tt.failFirst {
					return tt.failErr
				}
				return nil
			})
			err := h(context.Background(), &bus.Message{ID: "m1"})
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			for i, a := range seen {
				if a != i+1 {
					t.Errorf("attempt seen on call %d = %d", i+1, a)
				}
			}
			if fmt.Sprint(clk.sleeps) != fmt.Sprint(tt.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", clk.sleeps, tt.wantSleeps)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, errBoom) {
				t.Errorf("err %v does not wrap the handler error", err)
			}
			var re *bus.RetriesExhaustedError
			if got := errors.As(err, &re); got != tt.wantExhaust {
				t.Errorf("RetriesExhaustedError = %v, want %v", got, tt.wantExhaust)
			}
			if got := bus.Attempts(err); got != tt.wantAttempt {
				t.Errorf("Attempts = %d, want %d", got, tt.wantAttempt)
			}
		})
	}
}

func TestRetryPermanentOnLaterAttemptKeepsCount(t *testing.T) {
	var calls int
	h := bus.Retry(5, nil, &fakeClock{})(func(context.Context, *bus.Message) error {
		calls++
		if calls == 2 {
			return bus.Permanent(errBoom)
		}
		return errBoom
	})
	err := h(context.Background(), &bus.Message{})
	var pe *bus.PermanentError
	if !errors.As(err, &pe) || bus.Attempts(err) != 2 || calls != 2 {
		t.Fatalf("err=%v attempts=%d calls=%d, want permanent after 2", err, bus.Attempts(err), calls)
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls int
	h := bus.Retry(5, nil, &fakeClock{})(func(context.Context, *bus.Message) error {
		calls++
		cancel()
		return errBoom
	})
	err := h(ctx, &bus.Message{})
	if !errors.Is(err, errBoom) || calls != 1 {
		t.Fatalf("err=%v calls=%d, want boom after 1 call", err, calls)
	}
}

func TestAttemptFromDefault(t *testing.T) {
	if got := bus.AttemptFrom(context.Background()); got != 1 {
		t.Fatalf("AttemptFrom(empty) = %d, want 1", got)
	}
}

func TestExponentialBackoff(t *testing.T) {
	b := bus.ExponentialBackoff(10*time.Millisecond, 50*time.Millisecond)
	want := []time.Duration{10, 20, 40, 50, 50}
	for i, w := range want {
		if got := b(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}

// recPublisher records published messages, failing when err is set.
type recPublisher struct {
	mu   sync.Mutex
	msgs []*bus.Message
	err  error
}

func (p *recPublisher) Publish(_ context.Context, msgs ...*bus.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func (p *recPublisher) Close() error { return nil }

func TestDeadLetter(t *testing.T) {
	errPub := errors.New("dlq down")
	tests := []struct {
		name         string
		handler      bus.Handler
		retry        int // 0: no retry middleware
		pubErr       error
		wantErr      error
		wantDLQ      bool
		wantAttempts string
		wantReason   string
	}{
		{name: "success passes", handler: func(context.Context, *bus.Message) error { return nil }},
		{name: "failure dead-lettered", handler: func(context.Context, *bus.Message) error { return errBoom },
			wantDLQ: true, wantAttempts: "1", wantReason: "boom"},
		{name: "retried then dead-lettered", retry: 3,
			handler: func(context.Context, *bus.Message) error { return errBoom },
			wantDLQ: true, wantAttempts: "3", wantReason: "retries exhausted after 3 attempts: boom"},
		{name: "permanent dead-lettered at once", retry: 3,
			handler: func(context.Context, *bus.Message) error { return bus.Permanent(errBoom) },
			wantDLQ: true, wantAttempts: "1", wantReason: "permanent: boom"},
		{name: "dlq publish failure propagates", handler: func(context.Context, *bus.Message) error { return errBoom },
			pubErr: errPub, wantErr: errPub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &recPublisher{err: tt.pubErr}
			var observed []string
			mws := []bus.Middleware{bus.DeadLetter(pub, "orders.dlq", "billing",
				bus.OnDeadLetter(func(_ context.Context, m *bus.Message, reason string, attempts int) {
					observed = append(observed, fmt.Sprintf("%s|%s|%d", m.ID, reason, attempts))
				}))}
			if tt.retry > 0 {
				mws = append(mws, bus.Retry(tt.retry, nil, &fakeClock{}))
			}
			h := bus.Chain(tt.handler, mws...)
			orig := &bus.Message{ID: "m-7", Topic: "orders", Key: "k1", Payload: []byte("p"),
				Headers: map[string]string{"trace": "t-1"}}
			err := h(context.Background(), orig)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, errBoom) {
					t.Fatalf("err = %v, want it to wrap %v and the handler error", err, tt.wantErr)
				}
				if len(observed) != 0 {
					t.Fatalf("observer called on failed publish: %v", observed)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want nil (acked)", err)
			}
			if !tt.wantDLQ {
				if len(pub.msgs) != 0 {
					t.Fatalf("published %d on success", len(pub.msgs))
				}
				return
			}
			if len(pub.msgs) != 1 {
				t.Fatalf("published %d, want 1", len(pub.msgs))
			}
			dl := pub.msgs[0]
			checks := map[string][2]string{
				"id":              {dl.ID, "m-7"},
				"key":             {dl.Key, "k1"},
				"topic":           {dl.Topic, "orders.dlq"},
				"payload":         {string(dl.Payload), "p"},
				"orig header":     {dl.Header("trace"), "t-1"},
				"reason":          {dl.Header(bus.HeaderDLQReason), tt.wantReason},
				"attempts":        {dl.Header(bus.HeaderDLQAttempts), tt.wantAttempts},
				"original topic":  {dl.Header(bus.HeaderDLQOriginalTopic), "orders"},
				"group":           {dl.Header(bus.HeaderDLQGroup), "billing"},
				"original intact": {strconv.Itoa(len(orig.Headers)) + orig.Topic, "1orders"},
			}
			for name, c := range checks {
				if c[0] != c[1] {
					t.Errorf("%s = %q, want %q", name, c[0], c[1])
				}
			}
			want := "m-7|" + tt.wantReason + "|" + tt.wantAttempts
			if len(observed) != 1 || observed[0] != want {
				t.Errorf("observed %v, want [%s]", observed, want)
			}
		})
	}
}

func TestDedupConcurrentDuplicatesRunOnce(t *testing.T) {
	const dups = 8
	inbox := bus.NewMemoryInbox()
	var runs, duplicates atomic.Int32
	release := make(chan struct{})
	h := bus.Dedup(inbox, "g", bus.OnDuplicate(func(context.Context, *bus.Message) { duplicates.Add(1) }))(
		func(context.Context, *bus.Message) error {
			runs.Add(1)
			<-release // hold the claim while the duplicates arrive
			return nil
		})
	errs := make(chan error, dups)
	var wg sync.WaitGroup
	for i := 0; i < dups; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h(context.Background(), &bus.Message{ID: "same"})
		}()
	}
	// dups-1 deliveries return ErrInFlight while the first holds the claim.
	var inFlight int
	for inFlight < dups-1 {
		err := <-errs
		if !errors.Is(err, bus.ErrInFlight) {
			t.Fatalf("duplicate returned %v, want ErrInFlight", err)
		}
		inFlight++
	}
	close(release)
	wg.Wait()
	if err := <-errs; err != nil {
		t.Fatalf("claim holder returned %v", err)
	}
	// A later redelivery is a duplicate, acked without running.
	if err := h(context.Background(), &bus.Message{ID: "same"}); err != nil {
		t.Fatalf("redelivery returned %v", err)
	}
	if runs.Load() != 1 || duplicates.Load() != 1 {
		t.Fatalf("runs=%d duplicates=%d, want 1 and 1", runs.Load(), duplicates.Load())
	}
	if !inbox.Processed("g", "same") || inbox.Processed("other", "same") {
		t.Fatal("inbox state wrong: groups must be separate")
	}
}

func TestDedupAbortAllowsRetry(t *testing.T) {
	inbox := bus.NewMemoryInbox()
	var runs int
	h := bus.Dedup(inbox, "g")(func(context.Context, *bus.Message) error {
		runs++
		if runs == 1 {
			return errBoom
		}
		return nil
	})
	m := &bus.Message{ID: "x"}
	if err := h(context.Background(), m); !errors.Is(err, errBoom) {
		t.Fatalf("first = %v, want boom", err)
	}
	if inbox.Processed("g", "x") {
		t.Fatal("failed message recorded as processed")
	}
	if err := h(context.Background(), m); err != nil {
		t.Fatalf("retry = %v", err)
	}
	if err := h(context.Background(), m); err != nil {
		t.Fatalf("duplicate = %v", err)
	}
	if runs != 2 {
		t.Fatalf("runs = %d, want 2 (fail, succeed, then skip)", runs)
	}
}

func TestChainRetryAroundDedup(t *testing.T) {
	// Retry outside Dedup: a transient failure aborts the claim, the next
	// attempt reclaims and succeeds, and the effect happens once.
	inbox := bus.NewMemoryInbox()
	var effects int
	var calls int
	h := bus.Chain(func(context.Context, *bus.Message) error {
		calls++
		if calls == 1 {
			return errBoom
		}
		effects++
		return nil
	}, bus.Retry(3, nil, &fakeClock{}), bus.Dedup(inbox, "g"))
	for i := 0; i < 3; i++ {
		if err := h(context.Background(), &bus.Message{ID: "m"}); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	if effects != 1 || calls != 2 {
		t.Fatalf("effects=%d calls=%d, want 1 and 2", effects, calls)
	}
}
