package pebblestore_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/pebblestore"
)

// The crash test re-executes this test binary as a child that appends until
// the parent SIGKILLs it. These variables switch the child on.
const (
	envCrashDir  = "PEBBLESTORE_CRASH_DIR"
	envCrashSeed = "PEBBLESTORE_CRASH_SEED"
	crashWriters = 6
	crashStreams = 4
)

// crashSeeds are the seeds CI runs: each picks the workload and the moment
// of the kill.
var crashSeeds = []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

// TestCrashChild is the child side of TestCrashSafety; without the env
// switch it does nothing. Writers append 1-4 events at a time to shared
// streams and print "ack <stream> <nextExpected> <position> <id,...>" for
// each append after Append returns, until the process is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("child of TestCrashSafety only")
	}
	seed, err := strconv.ParseInt(os.Getenv(envCrashSeed), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pebblestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < crashWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed*100 + int64(w)))
			for n := 0; ; n++ {
				stream := fmt.Sprintf("s%d", rng.Intn(crashStreams))
				size := 1 + rng.Intn(4)
				evs := make([]event.Envelope, size)
				ids := make([]string, size)
				for i := range evs {
					ids[i] = fmt.Sprintf("w%d-%d-%dof%d", w, n, i, size)
					evs[i] = event.Envelope{ID: ids[i], Type: "Crash", Data: []byte(`{"pad":"` + strings.Repeat("x", rng.Intn(200)) + `"}`)}
				}
				res, err := s.Append(context.Background(), stream, eventstore.Any, evs...)
				if err != nil {
					fmt.Fprintf(os.Stderr, "append: %v\n", err)
					os.Exit(3)
				}
				line := fmt.Sprintf("ack %s %d %d %s\n", stream, res.NextExpected, res.Position, strings.Join(ids, ","))
				out.Lock()
				_, _ = os.Stdout.WriteString(line)
				out.Unlock()
			}
		}()
	}
	wg.Wait()
}

// ack is one acknowledged append as the child printed it.
type ack struct {
	stream       string
	nextExpected uint64
	position     uint64
	ids          []string
}

// TestCrashSafety SIGKILLs a child that appends concurrently at a seeded
// random moment, reopens its directory and checks that every acknowledged
// append is there, no append is torn, versions and positions are
// contiguous, event IDs are unique, and the store keeps appending.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(envCrashDir) != "" {
		t.Skip("parent only")
	}
	t.Logf("seeds %v", crashSeeds)
	for _, seed := range crashSeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			dir := t.TempDir()
			acks := runCrashChild(t, dir, seed)
			checkAfterCrash(t, dir, acks)
		})
	}
}

// runCrashChild runs the child until a seeded moment after its first
// acknowledgement, kills it with SIGKILL and returns what it acknowledged.
func runCrashChild(t *testing.T, dir string, seed int64) []ack {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	killAfter := time.Duration(100+rng.Intn(200)) * time.Millisecond
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashSeed+"="+strconv.FormatInt(seed, 10))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var (
		acks   []ack
		kill   <-chan time.Time
		killed bool
		limit  = time.NewTimer(30 * time.Second)
	)
	defer limit.Stop()
	for lines != nil {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			a, ok := parseAck(line)
			if !ok {
				continue // test framework output or a line cut by the kill
			}
			acks = append(acks, a)
			if kill == nil && !killed {
				kill = time.After(killAfter)
			}
		case <-kill:
			kill, killed = nil, true
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill: %v", err)
			}
		case <-limit.C:
			_ = cmd.Process.Kill()
			t.Fatalf("child did not acknowledge and die within 30s; stderr:\n%s", stderr.String())
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited by itself (%v); stderr:\n%s", err, stderr.String())
	}
	if len(acks) == 0 {
		t.Fatal("child acknowledged nothing")
	}
	t.Logf("seed %d: killed %v after the first ack; %d appends acknowledged", seed, killAfter, len(acks))
	return acks
}

func parseAck(line string) (ack, bool) {
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "ack" {
		return ack{}, false
	}
	next, err1 := strconv.ParseUint(f[2], 10, 64)
	pos, err2 := strconv.ParseUint(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return ack{}, false
	}
	return ack{stream: f[1], nextExpected: next, position: pos, ids: strings.Split(f[4], ",")}, true
}

// checkAfterCrash reopens dir and checks the invariants against acks.
func checkAfterCrash(t *testing.T, dir string, acks []ack) {
	t.Helper()
	ctx := context.Background()
	s := open(t, dir)
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	all, err := s.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatalf("read all after crash: %v", err)
	}
	byID := make(map[string]event.Envelope, len(all))
	versions := make(map[string]uint64)
	for i, e := range all {
		if e.Position != uint64(i)+1 {
			t.Fatalf("global positions not contiguous: index %d holds position %d", i, e.Position)
		}
		if _, dup := byID[e.ID]; dup {
			t.Fatalf("event ID %s stored twice", e.ID)
		}
		byID[e.ID] = e
		if e.Version != versions[e.Stream]+1 {
			t.Fatalf("stream %s: version %d follows %d", e.Stream, e.Version, versions[e.Stream])
		}
		versions[e.Stream] = e.Version
	}
	if s.LastPosition() != uint64(len(all)) {
		t.Fatalf("LastPosition %d, log holds %d", s.LastPosition(), len(all))
	}
	for stream, v := range versions {
		got, err := s.ReadStream(ctx, stream, 1, 0)
		if err != nil || uint64(len(got)) != v || s.Version(stream) != v {
			t.Fatalf("stream %s: ReadStream %d events (%v), Version %d, log says %d", stream, len(got), err, s.Version(stream), v)
		}
	}
	// No torn append: an ID "w-n-iofk" is present iff all k of its siblings
	// are, at adjacent positions.
	for _, e := range all {
		var w, n, i, k int
		if _, err := fmt.Sscanf(e.ID, "w%d-%d-%dof%d", &w, &n, &i, &k); err != nil {
			t.Fatalf("unexpected ID %q", e.ID)
		}
		for j := 0; j < k; j++ {
			sib, ok := byID[fmt.Sprintf("w%d-%d-%dof%d", w, n, j, k)]
			if !ok {
				t.Fatalf("torn append: %s stored without sibling %d of %d", e.ID, j, k)
			}
			if int64(sib.Position)-int64(e.Position) != int64(j-i) || sib.Stream != e.Stream {
				t.Fatalf("append of %s not adjacent: sibling %d at position %d", e.ID, j, sib.Position)
			}
		}
	}
	// Every acknowledged append is there, where it was acknowledged.
	for _, a := range acks {
		for i, id := range a.ids {
			e, ok := byID[id]
			off := uint64(len(a.ids) - 1 - i)
			if !ok {
				t.Fatalf("acknowledged event %s lost (%d events survived)", id, len(all))
			}
			if e.Stream != a.stream || e.Version != a.nextExpected-off || e.Position != a.position-off {
				t.Fatalf("acknowledged event %s: stored %s v%d p%d, acknowledged %s v%d p%d", id, e.Stream, e.Version, e.Position, a.stream, a.nextExpected-off, a.position-off)
			}
		}
	}
	t.Logf("%d events survived, %d appends acknowledged", len(all), len(acks))
	// The store goes on from where it stopped.
	res, err := s.Append(ctx, "after-crash", eventstore.NoStream, event.Envelope{ID: "after-crash-1"})
	if err != nil || res.Position != uint64(len(all))+1 {
		t.Fatalf("append after crash: %+v, %v; want position %d", res, err, len(all)+1)
	}
}
