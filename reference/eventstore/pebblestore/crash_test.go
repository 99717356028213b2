package pebblestore_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/eventstore/eventstoretest"
	"github.com/edkit-dev/edkit/reference/eventstore/pebblestore"
)

// The crash test re-executes this test binary as a child that appends until
// the parent SIGKILLs it. These variables switch the child on.
const (
	envCrashDir  = "PEBBLESTORE_CRASH_DIR"
	envCrashSeed = "PEBBLESTORE_CRASH_SEED"
)

// crashSeeds are the seeds CI runs: each picks the workload and the moment
// of the kill.
var crashSeeds = []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

// crashWorkload is what the child runs: six writers racing on four streams
// with batches of one to four events, so group commits carry several
// appends and a kill lands between and inside them.
func crashWorkload(seed int64) eventstoretest.CrashWorkload {
	return eventstoretest.CrashWorkload{Seed: seed, Writers: 6, Streams: 4, MaxBatch: 4, MaxPad: 200}
}

// TestCrashChild is the child side of TestCrashSafety; without the env
// switch it does nothing. It runs the shared crash workload, printing an
// ack line per acknowledged append, until the process is killed.
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
	if err := crashWorkload(seed).Run(context.Background(), s, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		os.Exit(3)
	}
}

// TestCrashSafety SIGKILLs a child that appends concurrently after a seeded
// number of acknowledged appends, reopens its directory and checks with the
// shared crash harness that every acknowledged append is there, no append
// is torn, versions and positions are contiguous, event IDs are unique, and
// the store keeps appending; then that the reopened store's heads agree.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(envCrashDir) != "" {
		t.Skip("parent only")
	}
	t.Logf("seeds %v", crashSeeds)
	for _, seed := range crashSeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			dir := t.TempDir()
			rng := rand.New(rand.NewSource(seed))
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashSeed+"="+strconv.FormatInt(seed, 10))
			child := eventstoretest.StartCrashChild(t, cmd)
			killAt := 5 + rng.Intn(500)
			acks := child.WaitAcks(t, nil, killAt, 30*time.Second)
			acks = child.Kill(t, acks)
			t.Logf("seed %d: killed after %d acks; %d acknowledged in all", seed, killAt, len(acks))

			s := open(t, dir)
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			}()
			n := eventstoretest.VerifyAfterCrash(t, s, acks)
			if s.LastPosition() != uint64(n)+1 { // VerifyAfterCrash appended one more
				t.Fatalf("LastPosition %d, want %d", s.LastPosition(), n+1)
			}
			for _, a := range acks {
				if v := s.Version(a.Stream); v < a.NextExpected {
					t.Fatalf("stream %s: reopened head at version %d, below acknowledged %d", a.Stream, v, a.NextExpected)
				}
			}
		})
	}
}
