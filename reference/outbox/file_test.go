package outbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/eventstore/pebblestore"
)

func TestFileCheckpoint(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint")
	cp := NewFileCheckpoint(path)
	if pos, err := cp.Load(ctx); err != nil || pos != 0 {
		t.Fatalf("Load of a missing file = %d, %v; want 0, nil", pos, err)
	}
	for _, pos := range []uint64{1, 99, 1 << 62} {
		if err := cp.Save(ctx, pos); err != nil {
			t.Fatal(err)
		}
		// A new value reads the file afresh, as a restarted process would.
		if got, err := NewFileCheckpoint(path).Load(ctx); err != nil || got != pos {
			t.Fatalf("Load after Save(%d) = %d, %v", pos, got, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("directory holds %d files after saves, want only the checkpoint", len(entries))
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := cp.Save(cancelled, 5); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save with a cancelled ctx = %v", err)
	}
	if err := NewFileCheckpoint(filepath.Join(dir, "no", "such", "dir")).Save(ctx, 1); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
	for _, bad := range []string{"", "x", "-1", "18446744073709551616"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := cp.Load(ctx); !errors.Is(err, ErrCorruptCheckpoint) {
			t.Errorf("Load of %q = %v, want ErrCorruptCheckpoint", bad, err)
		}
	}
}

// The process-kill test re-executes this test binary as a child relay over
// a Pebble store and a FileCheckpoint, and SIGKILLs it while it is stuck
// in a publish. These variables switch the child on.
const (
	envKillDir  = "OUTBOX_KILL_DIR"
	envKillHang = "OUTBOX_KILL_HANG"
)

// TestKillChild is the child side of TestRelaySurvivesProcessKill: it
// prints "pub <id>" for each message its publisher confirms, and on the
// configured Publish call prints "hang" and blocks until killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(envKillDir)
	if dir == "" {
		t.Skip("child of TestRelaySurvivesProcessKill only")
	}
	hang, err := strconv.Atoi(os.Getenv(envKillHang))
	if err != nil {
		t.Fatal(err)
	}
	store, err := pebblestore.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(store, &printer{hang: hang}, NewFileCheckpoint(filepath.Join(dir, "checkpoint")),
		WithBatch(16), WithCheckpointEvery(64), WithCheckpointInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Fatalf("Run returned before the kill: %v", r.Run(t.Context()))
}

// printer is the child's "broker": stdout, which the parent reads.
type printer struct {
	mu    sync.Mutex
	calls int
	hang  int
}

func (p *printer) Publish(ctx context.Context, msgs ...*bus.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.calls == p.hang {
		fmt.Println("hang")
		<-ctx.Done()
		return ctx.Err()
	}
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("pub " + m.ID + "\n")
	}
	fmt.Print(b.String())
	return nil
}

func (p *printer) Close() error { return nil }

// TestRelaySurvivesProcessKill: a relay process killed mid-run leaves a
// durable checkpoint; a new relay in a new "process" (this one) reopens
// the store and the checkpoint and completes the log, republishing only
// what followed the checkpoint.
func TestRelaySurvivesProcessKill(t *testing.T) {
	const total = 600
	for _, hang := range []int{1, 6, 25} {
		t.Run(fmt.Sprintf("hang at publish %d", hang), func(t *testing.T) {
			ctx := t.Context()
			dir := t.TempDir()
			storeDir := filepath.Join(dir, "store")
			store, err := pebblestore.Open(storeDir)
			if err != nil {
				t.Fatal(err)
			}
			appendEvents(ctx, t, store, 9, total, "e")
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}

			run0 := runKillChild(t, dir, hang)

			store, err = pebblestore.Open(storeDir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = store.Close() })
			cp := NewFileCheckpoint(filepath.Join(dir, "checkpoint"))
			from, err := cp.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rec := newRecorder(nil)
			r, err := New(store, rec.incarnation(nil), cp, WithBatch(16), WithCheckpointEvery(64))
			if err != nil {
				t.Fatal(err)
			}
			_, stop := runRelay(ctx, r)
			eventually(t, "the new process to relay everything", func() bool { return r.Relayed() == total })
			if err := stop(); err != nil {
				t.Fatal(err)
			}

			stored := readAll(ctx, t, store)
			v := check(stored, [][]*bus.Message{run0, rec.runs()[0]}, []uint64{0, from})
			if !v.ok() {
				t.Fatalf("relay broke its promise across the kill: %v", v)
			}
			if want := len(run0) - int(from); v.duplicate != want {
				t.Fatalf("%d duplicates, want %d (published %d before the kill, checkpoint %d)", v.duplicate, want, len(run0), from)
			}
			if pos, err := NewFileCheckpoint(cp.Path()).Load(ctx); err != nil || pos != total {
				t.Fatalf("checkpoint after a clean stop = %d, %v; want %d", pos, err, total)
			}
			t.Logf("killed after %d published, checkpoint %d, %d duplicates", len(run0), from, v.duplicate)
		})
	}
}

// runKillChild runs the child relay until it hangs, kills it with SIGKILL
// and returns the messages it published.
func runKillChild(t *testing.T, dir string, hang int) []*bus.Message {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envKillDir+"="+dir, envKillHang+"="+strconv.Itoa(hang))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got []*bus.Message
	hung := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if id, ok := strings.CutPrefix(line, "pub "); ok {
				got = append(got, &bus.Message{ID: id})
			}
			if line == "hang" {
				close(hung)
			}
		}
	}()
	select {
	case <-hung:
	case <-read:
		_ = cmd.Wait()
		t.Fatalf("child ended before hanging; stderr:\n%s", stderr.String())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("child did not hang")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-read
	_ = cmd.Wait()
	return got
}
