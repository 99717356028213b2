package pebbleinbox_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/inboxtest"
	"github.com/edkit-dev/edkit/reference/bus/pebbleinbox"
)

func open(t *testing.T, dir string, opts ...pebbleinbox.Option) *pebbleinbox.Inbox {
	t.Helper()
	in, err := pebbleinbox.Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close() })
	return in
}

func TestConformance(t *testing.T) {
	inboxtest.Run(t, func(t *testing.T) bus.Inbox {
		t.Helper()
		return open(t, t.TempDir())
	})
}

// TestConformanceAfterReopen runs the suite on an inbox that was closed
// and reopened with records in it, so reads go through Pebble's files, not
// only the memtable.
func TestConformanceAfterReopen(t *testing.T) {
	inboxtest.Run(t, func(t *testing.T) bus.Inbox {
		t.Helper()
		dir := t.TempDir()
		in := open(t, dir)
		for i := range 100 {
			if err := in.Done(t.Context(), "other", fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := in.Close(); err != nil {
			t.Fatal(err)
		}
		return open(t, dir)
	})
}

// TestSurvivesReopen: processed IDs are remembered after Close and Open;
// claims (in flight when the process went) are not, so the redelivery of
// an unfinished message runs again.
func TestSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	in := open(t, dir)
	for i := range 50 {
		id := fmt.Sprintf("m%d", i)
		inboxtest.Begin(ctx, t, in, "g", id, "first")
		if err := in.Done(ctx, "g", id); err != nil {
			t.Fatal(err)
		}
	}
	inboxtest.Begin(ctx, t, in, "g", "unfinished", "first")
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}

	in = open(t, dir)
	for i := range 50 {
		inboxtest.Begin(ctx, t, in, "g", fmt.Sprintf("m%d", i), "dup")
	}
	inboxtest.Begin(ctx, t, in, "other-group", "m0", "first")
	inboxtest.Begin(ctx, t, in, "g", "unfinished", "first")
	if ok, err := in.Processed(ctx, "g", "m7"); err != nil || !ok {
		t.Fatalf("Processed(m7) after reopen = %v, %v", ok, err)
	}
}

func TestClose(t *testing.T) {
	ctx := t.Context()
	in, err := pebbleinbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); !errors.Is(err, pebbleinbox.ErrClosed) || !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	_, err = in.Begin(ctx, "g", "m")
	for name, err := range map[string]error{
		"Begin": err,
		"Done":  in.Done(ctx, "g", "m"),
		"Abort": in.Abort(ctx, "g", "m"),
	} {
		if !errors.Is(err, bus.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if _, err := in.Purge(ctx); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Purge after Close = %v", err)
	}
}

// TestOpenLocked: a second Open of a directory in use fails rather than
// sharing claims it cannot see.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	if in, err := pebbleinbox.Open(dir); err == nil {
		_ = in.Close()
		t.Fatal("second Open of a locked directory succeeded")
	}
}

func TestRetention(t *testing.T) {
	ctx := t.Context()
	clk := clock.NewVirtual(time.Unix(1_000_000, 0))
	dir := filepath.Join(t.TempDir(), "inbox")
	in := open(t, dir, pebbleinbox.WithRetention(time.Hour), pebbleinbox.WithNow(clk.Now))
	for _, id := range []string{"old1", "old2"} {
		if err := in.Done(ctx, "g", id); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(30 * time.Minute)
	if err := in.Done(ctx, "g", "new"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30*time.Minute + time.Second) // old: 1h0m1s, new: 30m1s
	inboxtest.Begin(ctx, t, in, "g", "new", "dup")
	if n, err := in.Purge(ctx); err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want the 2 old records", n, err)
	}
	inboxtest.Begin(ctx, t, in, "g", "old1", "first")
	inboxtest.Begin(ctx, t, in, "g", "new", "dup")
	// Expired but not yet purged counts as absent too.
	clk.Advance(time.Hour)
	inboxtest.Begin(ctx, t, in, "g", "new", "first")

	// Without retention nothing expires.
	plain := open(t, t.TempDir(), pebbleinbox.WithNow(clk.Now))
	if err := plain.Done(ctx, "g", "m"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(1000 * time.Hour)
	inboxtest.Begin(ctx, t, plain, "g", "m", "dup")
	if n, err := plain.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("Purge without retention = %d, %v", n, err)
	}
}

func TestCancelledContext(t *testing.T) {
	in := open(t, t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := in.Begin(ctx, "g", "m"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Begin with a cancelled ctx = %v", err)
	}
}

// BenchmarkInbox measures a Begin+Done pair: the memory inbox is the bare
// baseline; the Pebble inbox pays a synced commit per Done, shared between
// concurrent Dones.
func BenchmarkInbox(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) bus.Inbox
	}{
		{"memory", func(*testing.B) bus.Inbox { return bus.NewMemoryInbox() }},
		{"pebble", func(b *testing.B) bus.Inbox {
			b.Helper()
			in, err := pebbleinbox.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = in.Close() })
			return in
		}},
	}
	for _, be := range backends {
		b.Run(be.name+"/serial", func(b *testing.B) {
			in := be.open(b)
			ctx := b.Context()
			for i := 0; b.Loop(); i++ {
				if err := beginDone(ctx, in, fmt.Sprint(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(be.name+"/parallel64", func(b *testing.B) {
			in := be.open(b)
			ctx := b.Context()
			b.SetParallelism(32) // 64 goroutines on 2 cores
			var n atomicCounter
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := beginDone(ctx, in, fmt.Sprint(n.next())); err != nil {
						b.Error(err) // not Fatal: this is not the benchmark's goroutine
						return
					}
				}
			})
		})
	}
}

func beginDone(ctx context.Context, in bus.Inbox, id string) error {
	first, err := in.Begin(ctx, "g", id)
	if err != nil || !first {
		return fmt.Errorf("Begin %s = %v, %w", id, first, err)
	}
	return in.Done(ctx, "g", id)
}
