package pgstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/pgstore"
)

// The crash test re-executes this test binary as a client process that
// appends through pgstore and prints every acknowledged append; the parent
// kills the client, or the server, at a seeded moment and then checks the
// log. These variables carry its parameters.
const (
	childEnv       = "EDKIT_PGSTORE_CRASH_CHILD"
	childURLEnv    = "EDKIT_PGSTORE_CRASH_URL"
	childSchemaEnv = "EDKIT_PGSTORE_CRASH_SCHEMA"
	childSeedEnv   = "EDKIT_PGSTORE_CRASH_SEED"
)

const (
	crashWriters = 4
	crashStreams = 3 // shared by the writers, so they also race on versions
)

// crashChild is the client process: writers append batches of 1-3 events to
// shared streams with exact expectations, retrying with the same IDs after
// any error (an ambiguous commit included), and print "ack" lines. It runs
// until killed.
func crashChild() int {
	seed, err := strconv.ParseInt(os.Getenv(childSeedEnv), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: seed:", err)
		return 2
	}
	ctx := context.Background()
	var s *pgstore.Store
	for {
		s, err = pgstore.New(ctx, os.Getenv(childURLEnv), pgstore.WithSchema(os.Getenv(childSchemaEnv)), pgstore.WithMaxConns(crashWriters))
		if err == nil {
			break
		}
		fmt.Fprintln(os.Stderr, "child: new:", err)
		time.Sleep(50 * time.Millisecond) // the server may be restarting; retry until killed
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < crashWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed*100 + int64(w)))
			known := make(map[string]uint64)
			for b := 0; ; b++ {
				stream := fmt.Sprintf("c-%d", rng.Intn(crashStreams))
				size := 1 + rng.Intn(3)
				batch := make([]event.Envelope, size)
				ids := make([]string, size)
				for i := range batch {
					ids[i] = fmt.Sprintf("w%d-b%d-%d-of-%d", w, b, i, size)
					batch[i] = event.Envelope{ID: ids[i], Type: "Crashed", Data: []byte(`{"n":1}`)}
				}
				for {
					actx, cancel := context.WithTimeout(ctx, 5*time.Second)
					res, err := s.Append(actx, stream, eventstore.Exact(known[stream]), batch...)
					cancel()
					var ce *eventstore.ConcurrencyError
					switch {
					case err == nil:
						known[stream] = res.NextExpected
						out.Lock()
						fmt.Printf("ack %s %d %d %s\n", stream, res.NextExpected, res.Position, strings.Join(ids, ","))
						out.Unlock()
					case errors.As(err, &ce):
						known[stream] = ce.Actual
						continue
					default:
						time.Sleep(20 * time.Millisecond) // server down: retry the same IDs
						continue
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	return 0
}

// ack is one acknowledged append as the child printed it.
type ack struct {
	stream       string
	nextExpected uint64
	position     uint64
	ids          []string
}

func parseAck(line string) (ack, error) {
	var a ack
	var ids string
	if _, err := fmt.Sscanf(line, "ack %s %d %d %s", &a.stream, &a.nextExpected, &a.position, &ids); err != nil {
		return a, fmt.Errorf("bad ack line %q: %w", line, err)
	}
	a.ids = strings.Split(ids, ",")
	return a, nil
}

// crashRun is one child process and its acknowledged appends.
type crashRun struct {
	cmd  *exec.Cmd
	acks chan ack
	errs chan error
	done chan struct{} // closed when stdout reaches EOF
}

func startChild(t *testing.T, schema string, seed int64) *crashRun {
	t.Helper()
	// The child runs until the test kills it; t.Context ends it if the
	// test fails first.
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childURLEnv+"="+pgURL, childSchemaEnv+"="+schema, childSeedEnv+"="+strconv.FormatInt(seed, 10))
	cmd.Stderr = io.Discard
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &crashRun{cmd: cmd, acks: make(chan ack, 1<<16), errs: make(chan error, 1), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return // a line cut by SIGKILL has no newline and is dropped
			}
			a, err := parseAck(strings.TrimSuffix(line, "\n"))
			if err != nil {
				select {
				case r.errs <- err:
				default:
				}
				continue
			}
			r.acks <- a
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return r
}

// waitAcks collects acknowledged appends until it has n more, failing the
// test after limit.
func (r *crashRun) waitAcks(t *testing.T, got []ack, n int, limit time.Duration) []ack {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	want := len(got) + n
	for len(got) < want {
		select {
		case a := <-r.acks:
			got = append(got, a)
		case err := <-r.errs:
			t.Fatal(err)
		case <-r.done:
			t.Fatalf("child exited after %d of %d acks", len(got), want)
		case <-deadline.C:
			t.Fatalf("only %d of %d acks within %v", len(got), want, limit)
		}
	}
	return got
}

// killChild SIGKILLs the client and collects the acks it printed before.
func (r *crashRun) killChild(t *testing.T, got []ack) []ack {
	t.Helper()
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-r.done
	_ = r.cmd.Wait()
	for {
		select {
		case a := <-r.acks:
			got = append(got, a)
		case err := <-r.errs:
			t.Fatal(err)
		default:
			return got
		}
	}
}

func TestCrashSafety(t *testing.T) {
	needPG(t)
	c := pgEnv.Component("postgres")
	killer, okK := env.As[env.Killer](c)
	restarter, okR := env.As[env.Restarter](c)
	if !okK || !okR {
		t.Fatalf("the process provider's postgres handle lacks Killer/Restarter (%v/%v)", okK, okR)
	}
	type variant struct {
		name  string
		seeds []int64
	}
	variants := []variant{
		{"kill-client", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"kill-server", []int64{101, 102, 103, 104, 105, 106, 107, 108, 109, 110}},
	}
	for _, v := range variants {
		for _, seed := range v.seeds {
			t.Run(fmt.Sprintf("%s/seed=%d", v.name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				schema := freshSchema(t)
				r := startChild(t, schema, seed)
				killAt := 5 + rng.Intn(150) // the seeded moment: after this many acks
				acks := r.waitAcks(t, nil, killAt, 20*time.Second)
				if v.name == "kill-server" {
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					if err := killer.Kill(ctx); err != nil {
						t.Fatalf("kill postgres: %v", err)
					}
					restartServer(ctx, t, restarter)
					// The client must recover by itself: more acks after the restart.
					acks = r.waitAcks(t, acks, 10+rng.Intn(40), 30*time.Second)
				}
				acks = r.killChild(t, acks)
				stored := verifyCrashLog(t, schema, acks)
				t.Logf("seed %d: killed after %d acks; %d acks in all, %d events stored", seed, killAt, len(acks), stored)
			})
		}
	}
}

// restartServer restarts the killed server, retrying a bounded number of
// times: the provider's Kill returns once the postmaster is gone, but a
// SIGKILLed backend can still hold the old shared memory segment for a
// moment, and a postmaster started then refuses to run ("pre-existing
// shared memory block is still in use").
func restartServer(ctx context.Context, t *testing.T, r env.Restarter) {
	t.Helper()
	var err error
	for try := 1; try <= 10; try++ {
		if err = r.Restart(ctx); err == nil {
			if try > 1 {
				t.Logf("postgres restarted on try %d", try)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("restart postgres: %v (last error: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("restart postgres: %v", err)
}

// verifyCrashLog checks the log against the child's acks: every ack is
// stored where it said, nothing is torn (each batch whole, adjacent,
// in one stream), versions and positions are contiguous, IDs unique.
func verifyCrashLog(t *testing.T, schema string, acks []ack) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := pgstore.New(ctx, pgURL, pgstore.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	all, err := s.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	byID := make(map[string]event.Envelope, len(all))
	versions := make(map[string]uint64)
	for i, e := range all {
		if e.Position != uint64(i)+1 {
			t.Fatalf("positions not contiguous: index %d holds %d", i, e.Position)
		}
		if _, dup := byID[e.ID]; dup {
			t.Fatalf("event ID %s stored twice", e.ID)
		}
		byID[e.ID] = e
		if e.Version != versions[e.Stream]+1 {
			t.Fatalf("stream %s: version %d after %d", e.Stream, e.Version, versions[e.Stream])
		}
		versions[e.Stream] = e.Version
	}
	// Not torn: every stored batch is whole, in adjacent positions and versions.
	for _, e := range all {
		var w, b, i, of int
		if _, err := fmt.Sscanf(e.ID, "w%d-b%d-%d-of-%d", &w, &b, &i, &of); err != nil {
			t.Fatalf("unexpected ID %s", e.ID)
		}
		if i != 0 {
			continue
		}
		for j := 1; j < of; j++ {
			id := fmt.Sprintf("w%d-b%d-%d-of-%d", w, b, j, of)
			o, ok := byID[id]
			if !ok {
				t.Fatalf("torn batch: %s stored without %s", e.ID, id)
			}
			if o.Stream != e.Stream || o.Position != e.Position+uint64(j) || o.Version != e.Version+uint64(j) {
				t.Fatalf("torn batch: %s at %s/v%d/p%d, %s at %s/v%d/p%d", e.ID, e.Stream, e.Version, e.Position, id, o.Stream, o.Version, o.Position)
			}
		}
	}
	for _, a := range acks {
		n := uint64(len(a.ids))
		for i, id := range a.ids {
			e, ok := byID[id]
			if !ok {
				t.Fatalf("acknowledged event %s (append to %s at v%d) is missing", id, a.stream, a.nextExpected)
			}
			if e.Stream != a.stream || e.Version != a.nextExpected-n+uint64(i)+1 || e.Position != a.position-n+uint64(i)+1 {
				t.Fatalf("acknowledged event %s: stored at %s/v%d/p%d, ack said %s next %d position %d", id, e.Stream, e.Version, e.Position, a.stream, a.nextExpected, a.position)
			}
		}
	}
	if len(acks) == 0 {
		t.Fatal("no acknowledged appends: the test checked nothing")
	}
	return len(all)
}
