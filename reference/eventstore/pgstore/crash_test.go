package pgstore_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/reference/eventstore/eventstoretest"
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

// crashChild is the client process: it runs the shared crash workload
// (writers racing on shared streams with exact expectations, retrying the
// same IDs after any error, an ambiguous commit included) and prints ack
// lines until killed.
func crashChild() int {
	seed, err := strconv.ParseInt(os.Getenv(childSeedEnv), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: seed:", err)
		return 2
	}
	w := eventstoretest.CrashWorkload{Seed: seed, Writers: 4, Streams: 3, MaxBatch: 3}
	ctx := context.Background()
	var s *pgstore.Store
	for {
		s, err = pgstore.New(ctx, os.Getenv(childURLEnv), pgstore.WithSchema(os.Getenv(childSchemaEnv)), pgstore.WithMaxConns(int32(w.Writers)))
		if err == nil {
			break
		}
		fmt.Fprintln(os.Stderr, "child: new:", err)
		time.Sleep(50 * time.Millisecond) // the server may be restarting; retry until killed
	}
	if err := w.Run(ctx, s, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "child: workload:", err)
		return 3
	}
	return 0
}

// startChild starts the client process on schema. It runs until the test
// kills it; t.Context ends it if the test fails first.
func startChild(t *testing.T, schema string, seed int64) *eventstoretest.CrashChild {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childURLEnv+"="+pgURL, childSchemaEnv+"="+schema, childSeedEnv+"="+strconv.FormatInt(seed, 10))
	return eventstoretest.StartCrashChild(t, cmd)
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
				acks := r.WaitAcks(t, nil, killAt, 20*time.Second)
				if v.name == "kill-server" {
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					if err := killer.Kill(ctx); err != nil {
						t.Fatalf("kill postgres: %v", err)
					}
					restartServer(ctx, t, restarter)
					// The client must recover by itself: more acks after the restart.
					acks = r.WaitAcks(t, acks, 10+rng.Intn(40), 30*time.Second)
				}
				acks = r.Kill(t, acks)
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

// verifyCrashLog opens a new store on schema and checks it against the
// child's acks with the shared crash harness.
func verifyCrashLog(t *testing.T, schema string, acks []eventstoretest.Ack) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := pgstore.New(ctx, pgURL, pgstore.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	return eventstoretest.VerifyAfterCrash(t, s, acks)
}
