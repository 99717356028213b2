package eventstoretest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// The crash harness is shared by every durable backend's kill -9 test. A
// test re-executes its own binary as a child that runs CrashWorkload against
// the store and prints one line per acknowledged append; the parent kills
// the child (or the server under it) at a seeded moment with StartCrashChild
// and Kill, reopens the store and hands it to VerifyAfterCrash with the
// acknowledgements. The checks are the same for every backend, so a new
// backend's crash test is a child switch and a kill.

// CrashWorkload is the child's side: concurrent writers appending batches
// to shared streams, so they race on versions as well as on the log.
type CrashWorkload struct {
	Seed     int64
	Writers  int // default 4
	Streams  int // default 3
	MaxBatch int // events per append, 1..MaxBatch; default 3
	MaxPad   int // bytes of padding per event, 0..MaxPad; default 0
	// Retry is how long a writer waits after an error other than a
	// concurrency error before retrying the same events (default 20ms):
	// the server may be restarting, and the same IDs make the retry safe.
	Retry time.Duration
}

// Run appends until ctx is done, writing "ack <stream> <nextExpected>
// <position> <id,...>" to out after each append returns. Writers use exact
// expectations and retry the same event IDs after any error, so an append
// whose outcome was unknown is settled by the store's idempotency rather
// than written twice.
func (w CrashWorkload) Run(ctx context.Context, s eventstore.Store, out io.Writer) error {
	w = w.withDefaults()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = make(chan error, w.Writers)
	)
	for i := range w.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.writer(ctx, s, i, func(line string) error {
				mu.Lock()
				defer mu.Unlock()
				_, err := io.WriteString(out, line)
				return err
			}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (w CrashWorkload) withDefaults() CrashWorkload {
	if w.Writers <= 0 {
		w.Writers = 4
	}
	if w.Streams <= 0 {
		w.Streams = 3
	}
	if w.MaxBatch <= 0 {
		w.MaxBatch = 3
	}
	if w.Retry <= 0 {
		w.Retry = 20 * time.Millisecond
	}
	return w
}

func crashID(writer, batch, i, of int) string {
	return fmt.Sprintf("w%d-b%d-%d-of-%d", writer, batch, i, of)
}

func (w CrashWorkload) writer(ctx context.Context, s eventstore.Store, id int, emit func(string) error) error {
	rng := rand.New(rand.NewSource(w.Seed*100 + int64(id)))
	known := make(map[string]uint64)
	for b := 0; ctx.Err() == nil; b++ {
		stream := fmt.Sprintf("crash-%d", rng.Intn(w.Streams))
		size := 1 + rng.Intn(w.MaxBatch)
		batch := make([]event.Envelope, size)
		ids := make([]string, size)
		for i := range batch {
			ids[i] = crashID(id, b, i, size)
			pad := ""
			if w.MaxPad > 0 {
				pad = strings.Repeat("x", rng.Intn(w.MaxPad+1))
			}
			batch[i] = event.Envelope{ID: ids[i], Type: "Crashed", Data: []byte(`{"pad":"` + pad + `"}`)}
		}
		for ctx.Err() == nil {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			res, err := s.Append(actx, stream, eventstore.Exact(known[stream]), batch...)
			cancel()
			var ce *eventstore.ConcurrencyError
			if err == nil {
				known[stream] = res.NextExpected
				if err := emit(Ack{Stream: stream, NextExpected: res.NextExpected, Position: res.Position, IDs: ids}.String()); err != nil {
					return err
				}
				break
			}
			if errors.As(err, &ce) {
				known[stream] = ce.Actual
				continue
			}
			select {
			case <-ctx.Done():
			case <-time.After(w.Retry):
			}
		}
	}
	return nil
}

// Ack is one acknowledged append as the child printed it.
type Ack struct {
	Stream       string
	NextExpected uint64
	Position     uint64
	IDs          []string
}

// String is the ack line, newline included.
func (a Ack) String() string {
	return fmt.Sprintf("ack %s %d %d %s\n", a.Stream, a.NextExpected, a.Position, strings.Join(a.IDs, ","))
}

// ParseAck reads an ack line (without its newline).
func ParseAck(line string) (Ack, error) {
	var a Ack
	var ids string
	if _, err := fmt.Sscanf(line, "ack %s %d %d %s", &a.Stream, &a.NextExpected, &a.Position, &ids); err != nil {
		return a, fmt.Errorf("bad ack line %q: %w", line, err)
	}
	a.IDs = strings.Split(ids, ",")
	return a, nil
}

// CrashChild is a running child process and the appends it acknowledged.
type CrashChild struct {
	cmd    *exec.Cmd
	acks   chan Ack
	done   chan struct{} // closed when stdout reaches EOF
	mu     sync.Mutex
	stderr strings.Builder
	bad    []string // stdout lines that were not acks (test framework output)
}

// StartCrashChild starts cmd (which must not have Stdout or Stderr set)
// and collects its ack lines. A line cut by the kill has no newline and is
// dropped: its append was never acknowledged. The child is killed when the
// test ends, whatever happened.
func StartCrashChild(t *testing.T, cmd *exec.Cmd) *CrashChild {
	t.Helper()
	c := &CrashChild{cmd: cmd, acks: make(chan Ack, 1<<16), done: make(chan struct{})}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.stderr.Len() < 1<<16 {
			c.stderr.Write(p)
		}
		return len(p), nil
	})
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if !strings.HasPrefix(line, "ack ") {
				c.mu.Lock()
				c.bad = append(c.bad, line)
				c.mu.Unlock()
				continue
			}
			a, err := ParseAck(line)
			if err != nil {
				c.mu.Lock()
				c.bad = append(c.bad, line)
				c.mu.Unlock()
				continue
			}
			c.acks <- a
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return c
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// output is what the child printed besides acks, for failure messages.
func (c *CrashChild) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("stdout (not acks): %q\nstderr:\n%s", c.bad, c.stderr.String())
}

// WaitAcks collects acknowledged appends until it has n more than got,
// failing the test after limit or if the child exits.
func (c *CrashChild) WaitAcks(t *testing.T, got []Ack, n int, limit time.Duration) []Ack {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	want := len(got) + n
	for len(got) < want {
		select {
		case a := <-c.acks:
			got = append(got, a)
		case <-c.done:
			t.Fatalf("child exited after %d of %d acks\n%s", len(got), want, c.output())
		case <-deadline.C:
			t.Fatalf("only %d of %d acks within %v\n%s", len(got), want, limit, c.output())
		}
	}
	return got
}

// Kill SIGKILLs the child and returns got plus every ack it printed before
// dying.
func (c *CrashChild) Kill(t *testing.T, got []Ack) []Ack {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.done
	_ = c.cmd.Wait()
	for {
		select {
		case a := <-c.acks:
			got = append(got, a)
		default:
			return got
		}
	}
}

// VerifyAfterCrash fails the test unless CheckAfterCrash passes, and
// logs how many events survived.
func VerifyAfterCrash(t *testing.T, s eventstore.Store, acks []Ack) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := CheckAfterCrash(ctx, s, acks)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events survived, %d appends acknowledged", n, len(acks))
	return n
}

// CheckAfterCrash checks a store reopened after the crash against the
// child's acks: global positions and stream versions contiguous, event IDs
// unique, no torn append (every batch whole, in one stream, at adjacent
// positions and versions), every acknowledged append stored exactly where
// it was acknowledged, and the store appending again from where it
// stopped. It returns how many events survived the crash.
func CheckAfterCrash(ctx context.Context, s eventstore.Store, acks []Ack) (int, error) {
	if len(acks) == 0 {
		return 0, errors.New("no acknowledged appends: the crash test checked nothing")
	}
	all, err := s.ReadAll(ctx, 1, 0)
	if err != nil {
		return 0, fmt.Errorf("read all after the crash: %w", err)
	}
	byID := make(map[string]event.Envelope, len(all))
	versions := make(map[string]uint64)
	for i, e := range all {
		if e.Position != uint64(i)+1 {
			return 0, fmt.Errorf("global positions not contiguous: index %d holds position %d", i, e.Position)
		}
		if _, dup := byID[e.ID]; dup {
			return 0, fmt.Errorf("event ID %s stored twice", e.ID)
		}
		byID[e.ID] = e
		if e.Version != versions[e.Stream]+1 {
			return 0, fmt.Errorf("stream %s: version %d follows %d", e.Stream, e.Version, versions[e.Stream])
		}
		versions[e.Stream] = e.Version
	}
	for stream, v := range versions {
		got, err := s.ReadStream(ctx, stream, 1, 0)
		if err != nil {
			return 0, fmt.Errorf("stream %s: read: %w", stream, err)
		}
		if uint64(len(got)) != v {
			return 0, fmt.Errorf("stream %s: ReadStream returned %d events, the log holds %d", stream, len(got), v)
		}
	}
	for _, e := range all {
		var w, b, i, of int
		if _, err := fmt.Sscanf(e.ID, "w%d-b%d-%d-of-%d", &w, &b, &i, &of); err != nil {
			return 0, fmt.Errorf("unexpected event ID %q", e.ID)
		}
		for j := range of {
			if j == i {
				continue
			}
			id := crashID(w, b, j, of)
			o, ok := byID[id]
			if !ok {
				return 0, fmt.Errorf("torn append: %s stored without %s", e.ID, id)
			}
			d := uint64(j - i) // wraps for j < i; the sums below wrap back
			if o.Stream != e.Stream || o.Position != e.Position+d || o.Version != e.Version+d {
				return 0, fmt.Errorf("torn append: %s at %s/v%d/p%d, %s at %s/v%d/p%d", e.ID, e.Stream, e.Version, e.Position, id, o.Stream, o.Version, o.Position)
			}
		}
	}
	for _, a := range acks {
		n := uint64(len(a.IDs))
		for i, id := range a.IDs {
			e, ok := byID[id]
			if !ok {
				return 0, fmt.Errorf("acknowledged event %s (append to %s ending at v%d) is lost; %d events survived", id, a.Stream, a.NextExpected, len(all))
			}
			wantV, wantP := a.NextExpected-n+uint64(i)+1, a.Position-n+uint64(i)+1
			if e.Stream != a.Stream || e.Version != wantV || e.Position != wantP {
				return 0, fmt.Errorf("acknowledged event %s: stored at %s/v%d/p%d, acknowledged at %s/v%d/p%d", id, e.Stream, e.Version, e.Position, a.Stream, wantV, wantP)
			}
		}
	}
	res, err := s.Append(ctx, "after-crash", eventstore.NoStream, event.Envelope{ID: "after-crash-1", Type: "Crashed"})
	if err != nil {
		return 0, fmt.Errorf("append after the crash: %w", err)
	}
	if res.Position != uint64(len(all))+1 {
		return 0, fmt.Errorf("append after the crash landed at position %d, want %d", res.Position, len(all)+1)
	}
	return len(all), nil
}
