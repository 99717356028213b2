package loadgen

import (
	"bytes"
	"context"
	"errors"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var nopDriver = DriverFunc(func(context.Context, Request) error { return nil })

// waitFor polls cond until it holds or the deadline passes; it bounds waits
// for asynchronous effects (goroutines exiting) without a fixed sleep.
func waitFor(t *testing.T, within time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

func checkNoLeak(t *testing.T, before int) {
	t.Helper()
	if !waitFor(t, 2*time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<16)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines leaked: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
	}
}

func TestRunAchievesRate(t *testing.T) {
	var early atomic.Int64
	d := DriverFunc(func(_ context.Context, r Request) error {
		if time.Now().Before(r.Intended) {
			early.Add(1)
		}
		return nil
	})
	cfg := Config{Rate: 2000, Duration: time.Second, Workers: 8, Keys: 100, PayloadSize: 16, Seed: 1}
	res, err := Run(t.Context(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	if early.Load() != 0 {
		t.Fatalf("%d requests sent before their intended time", early.Load())
	}
	if res.Sent != 2000 || res.OK != 2000 || res.Errors != 0 {
		t.Fatalf("sent=%d ok=%d errors=%d, want 2000/2000/0", res.Sent, res.OK, res.Errors)
	}
	if res.Rate < 2000*0.95 || res.Rate > 2000*1.05 {
		t.Fatalf("achieved rate %.1f/s over %v, want 2000/s within 5%%", res.Rate, res.Duration)
	}
	if res.Latency.Count != 2000 || res.ScheduleLag.Count != 2000 {
		t.Fatalf("histogram counts latency=%d lag=%d, want 2000", res.Latency.Count, res.ScheduleLag.Count)
	}
}

// TestRunMeasuresFromIntendedTime is the coordinated-omission test: the
// system stalls for 200 ms once, at 1000 req/s. Roughly 200 requests are due
// during the stall, so an honest p99 is large. Had latency been measured from
// the moment a worker called Send, only the few requests in flight during the
// stall would show it and p99 would stay near zero.
func TestRunMeasuresFromIntendedTime(t *testing.T) {
	const stall = 200 * time.Millisecond
	var system sync.Mutex // one system: a stall blocks every worker
	var stalled atomic.Bool
	d := DriverFunc(func(_ context.Context, r Request) error {
		system.Lock()
		defer system.Unlock()
		if r.Seq >= 100 && stalled.CompareAndSwap(false, true) {
			time.Sleep(stall) // the simulated system hangs; not a test wait
		}
		return nil
	})
	cfg := Config{Rate: 1000, Duration: time.Second, Workers: 4, Keys: 10}
	res, err := Run(t.Context(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 1000 {
		t.Fatalf("sent=%d, want 1000 (the schedule must not slip)", res.Sent)
	}
	if res.Latency.P99 < stall/2 {
		t.Errorf("p99 latency %v < %v: the stall was hidden (coordinated omission); %v", res.Latency.P99, stall/2, res.Latency)
	}
	if res.Latency.Max < stall*9/10 {
		t.Errorf("max latency %v, want >= %v", res.Latency.Max, stall*9/10)
	}
	if res.ScheduleLag.Max < stall/2 {
		t.Errorf("schedule lag max %v, want the stall to show as lag", res.ScheduleLag.Max)
	}
}

func TestRunKeySeqContiguousAndReproducible(t *testing.T) {
	run := func() map[uint64]Request {
		var mu sync.Mutex
		seen := map[uint64]Request{}
		d := DriverFunc(func(_ context.Context, r Request) error {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := seen[r.Seq]; dup {
				t.Errorf("Seq %d sent twice", r.Seq)
			}
			seen[r.Seq] = r
			return nil
		})
		cfg := Config{Rate: 4000, Duration: 250 * time.Millisecond, Workers: 4, Keys: 7, PayloadSize: 8, Seed: 42}
		res, err := Run(t.Context(), cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent != 1000 || len(seen) != 1000 {
			t.Fatalf("sent=%d distinct=%d, want 1000", res.Sent, len(seen))
		}
		return seen
	}
	a := run()
	perKey := map[string][]int64{}
	for seq := uint64(0); seq < uint64(len(a)); seq++ {
		r, ok := a[seq]
		if !ok {
			t.Fatalf("Seq %d missing: global sequence not contiguous", seq)
		}
		if !regexp.MustCompile(`^k-[0-6]$`).MatchString(r.Key) {
			t.Fatalf("key %q not in k-0..k-6", r.Key)
		}
		perKey[r.Key] = append(perKey[r.Key], r.KeySeq)
	}
	if len(perKey) != 7 {
		t.Errorf("%d keys used, want all 7", len(perKey))
	}
	for k, seqs := range perKey {
		// Seq order is schedule order, so KeySeq must already ascend 1,2,3...
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("key %s: KeySeq %v not contiguous from 1", k, seqs)
			}
		}
	}
	b := run()
	for seq, r := range a {
		if b[seq].Key != r.Key || b[seq].KeySeq != r.KeySeq || !bytes.Equal(b[seq].Payload, r.Payload) {
			t.Fatalf("Seq %d differs between runs with one seed: %+v vs %+v", seq, r, b[seq])
		}
	}
}

func TestRunKeyNameOption(t *testing.T) {
	var mu sync.Mutex
	keys := map[string]bool{}
	d := DriverFunc(func(_ context.Context, r Request) error {
		mu.Lock()
		defer mu.Unlock()
		keys[r.Key] = true
		return nil
	})
	_, err := Run(t.Context(), Config{Rate: 1000, Duration: 50 * time.Millisecond, Workers: 1, Keys: 1}, d,
		WithKeyName(func(n int) string { return "order-" + string(rune('A'+n)) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys["order-A"] {
		t.Fatalf("keys %v, want only order-A", keys)
	}
}

func TestRunCountsErrors(t *testing.T) {
	boom := errors.New("boom")
	d := DriverFunc(func(_ context.Context, r Request) error {
		if r.Seq%2 == 1 {
			return boom
		}
		return nil
	})
	res, err := Run(t.Context(), Config{Rate: 2000, Duration: 100 * time.Millisecond, Workers: 2, Keys: 3}, d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 200 || res.OK != 100 || res.Errors != 100 {
		t.Fatalf("sent=%d ok=%d errors=%d, want 200/100/100", res.Sent, res.OK, res.Errors)
	}
	if !errors.Is(res.FirstError, boom) {
		t.Fatalf("FirstError = %v, want boom", res.FirstError)
	}
}

func TestRunStopsOnCancelWithoutLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var n atomic.Int64
	d := DriverFunc(func(ctx context.Context, _ Request) error {
		if n.Add(1) == 50 {
			cancel()
		}
		return ctx.Err()
	})
	var out bytes.Buffer
	start := time.Now()
	res, err := Run(ctx, Config{Rate: 1000, Duration: time.Minute, Workers: 4, Keys: 1}, d,
		WithProgress(NewBarProgress(&out, time.Minute), 10*time.Millisecond))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Run took %v after cancel", took)
	}
	if res == nil || res.Sent < 50 || res.Sent > 60 {
		t.Fatalf("partial result %+v, want about 50 sent", res)
	}
	checkNoLeak(t, before)
}

var progressLine = regexp.MustCompile(`^edload: (done )?\d+\.\ds/300ms sent=\d+ ok=\d+ err=0 rate=\d+\.\d/s p99=\S+$`)

func TestRunLogProgress(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(t.Context(), Config{Rate: 200, Duration: 300 * time.Millisecond, Workers: 2, Keys: 1}, nopDriver,
		WithProgress(NewLogProgress(&out), 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("got %d progress lines, want several:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		if !progressLine.MatchString(l) {
			t.Errorf("line %q does not match %v", l, progressLine)
		}
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "edload: done ") || !strings.Contains(last, " sent=60 ok=60 ") || res.Sent != 60 {
		t.Errorf("final line %q (sent %d), want done with sent=60 ok=60", last, res.Sent)
	}
}

func TestWithTerminalProgressOnFileLogs(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "progress")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close progress file: %v", err)
		}
	})
	if _, err := Run(t.Context(), Config{Rate: 100, Duration: 100 * time.Millisecond, Workers: 1, Keys: 1}, nopDriver,
		WithTerminalProgress(f)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^edload: done 0\.1s/100ms sent=10 ok=10 err=0 rate=`).Match(b) {
		t.Fatalf("non-terminal progress wrote %q, want a plain done line", b)
	}
}

func TestSnapshotString(t *testing.T) {
	s := Snapshot{Elapsed: 12 * time.Second, Total: 20 * time.Second, Sent: 2400, OK: 2398, Rate: 200.1, P99: 3200 * time.Microsecond}
	want := "12.0s/20s sent=2400 ok=2398 err=0 rate=200.1/s p99=3.2ms"
	if got := s.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestShortDur(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {500, "500ns"}, {215 * time.Microsecond, "215µs"}, {999999, "1ms"},
		{3210 * time.Microsecond, "3.21ms"}, {1500 * time.Millisecond, "1.5s"}, {150 * time.Second, "2m30s"},
	} {
		if got := shortDur(tt.d); got != tt.want {
			t.Errorf("shortDur(%d) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestBarProgressFinishStopsRenderer(t *testing.T) {
	before := runtime.NumGoroutine()
	var out bytes.Buffer
	b := NewBarProgress(&out, time.Second)
	b.Update(Snapshot{Elapsed: 500 * time.Millisecond, Total: time.Second, Sent: 10, OK: 9, Errors: 1})
	b.Finish(Snapshot{Elapsed: time.Second, Total: time.Second, Sent: 20, OK: 19, Errors: 1, Rate: 20, P99: time.Millisecond})
	b.Finish(Snapshot{}) // idempotent
	if !strings.Contains(out.String(), "sent=20 acked=19 err=1 p99=1ms") {
		t.Errorf("bar output %q lacks the final counters", out.String())
	}
	checkNoLeak(t, before)
}

func TestTracker(t *testing.T) {
	tr := NewTracker()
	t0 := time.Unix(1000, 0)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "cmd-" + string(rune('a'+i%26)) + "-" + time.Duration(i).String()
			tr.Start(id, t0)
			if i < 90 {
				tr.Done(id, t0.Add(time.Duration(i+1)*time.Millisecond))
			}
		}()
	}
	wg.Wait()
	tr.Done("never-started", t0)
	if got := tr.Pending(); got != 10 {
		t.Errorf("Pending() = %d, want 10", got)
	}
	if got := tr.Unmatched(); got != 1 {
		t.Errorf("Unmatched() = %d, want 1", got)
	}
	s := tr.Summary()
	// HDR keeps 3 significant figures, so allow 0.1% on the extremes.
	if s.Count != 90 || s.Min < 999*time.Microsecond || s.Min > 1001*time.Microsecond ||
		s.Max < 89900*time.Microsecond || s.Max > 90100*time.Microsecond {
		t.Errorf("Summary() = %v, want 90 samples from 1ms to 90ms", s)
	}
	if s.P50 < 44*time.Millisecond || s.P50 > 46*time.Millisecond {
		t.Errorf("p50 = %v, want about 45ms", s.P50)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	if s := Summarize(nil); s != (Summary{}) {
		t.Fatalf("Summarize(nil) = %v", s)
	}
	if s := Summarize(newHist()); s != (Summary{}) {
		t.Fatalf("Summarize(empty) = %v", s)
	}
}

func TestRecordClamps(t *testing.T) {
	h := newHist()
	record(h, -time.Second)
	record(h, time.Hour)
	s := Summarize(h)
	if s.Count != 2 || s.Min != time.Microsecond || s.Max < 59*time.Second {
		t.Fatalf("clamped summary %v, want 2 samples at 1µs and ~60s", s)
	}
}

func TestRunWithSpinWaitKeepsSchedule(t *testing.T) {
	var early atomic.Int64
	d := DriverFunc(func(_ context.Context, r Request) error {
		if time.Now().Before(r.Intended) {
			early.Add(1) // spinning must never send ahead of the schedule
		}
		return nil
	})
	res, err := Run(t.Context(), Config{Rate: 2000, Duration: 100 * time.Millisecond, Workers: 2, Keys: 1}, d,
		WithSpinWait(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 200 || early.Load() != 0 {
		t.Fatalf("sent=%d early=%d, want 200 sent and none early", res.Sent, early.Load())
	}
}
