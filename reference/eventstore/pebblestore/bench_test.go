package pebblestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// benchData is the body of every benchmark event: 256 bytes of JSON.
var benchData = []byte(`{"pad":"` + strings.Repeat("x", 246) + `"}`)

// BenchmarkSyncBaseline is the bare disk: 1 KiB records written with
// O_DSYNC in the benchmark's temp dir (same file system as the store), so
// store figures can be read against the fsync rate of the same run.
// "append" grows the file like a log does; "overwrite" rewrites a
// preallocated file in place, the device's best case (no size update);
// "pebble" is bare Pebble, one 1 KiB Set per batch committed with Sync, the
// floor under the store's single-writer cost.
func BenchmarkSyncBaseline(b *testing.B) {
	rec := make([]byte, 1024)
	b.Run("pebble", func(b *testing.B) {
		db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: benchLogger{}})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = db.Close() }() // a benchmark's scratch database
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := db.Set([]byte(fmt.Sprintf("k%012d", i)), rec, pebble.Sync); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
	})
	for _, mode := range []string{"append", "overwrite"} {
		b.Run(mode, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "baseline")
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|syscall.O_DSYNC, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = f.Close() }() // scratch file in a temp dir
			if mode == "overwrite" {
				const slots = 1024
				pre, err := os.OpenFile(path, os.O_WRONLY, 0o600)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := pre.Write(make([]byte, slots*len(rec))); err != nil {
					b.Fatal(err)
				}
				if err := pre.Sync(); err != nil {
					b.Fatal(err)
				}
				_ = pre.Close()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := f.WriteAt(rec, int64(i%slots)*int64(len(rec))); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := f.Write(rec); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
		})
	}
}

// BenchmarkAppend measures synced appends of 256-byte events, by 1 writer
// and by 8 and 64 concurrent writers (each on its own stream, with an exact
// expectation), one event per append, and 64 writers with 10-event appends.
// b.N is the total number of appends; events/s counts events, and
// appends/fsync shows how many appends each group commit carried.
func BenchmarkAppend(b *testing.B) {
	cases := []struct{ writers, size int }{{1, 1}, {8, 1}, {64, 1}, {64, 10}}
	for _, c := range cases {
		writers := c.writers
		b.Run(fmt.Sprintf("writers=%d/events=%d", c.writers, c.size), func(b *testing.B) {
			s := open(b, b.TempDir())
			defer func() { _ = s.Close() }() // scratch store in a temp dir
			var (
				next atomic.Int64
				wg   sync.WaitGroup
				fail atomic.Value
			)
			b.ResetTimer()
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stream := fmt.Sprintf("bench-%d", w)
					var version uint64
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						evs := make([]event.Envelope, c.size)
						for j := range evs {
							evs[j] = event.Envelope{ID: fmt.Sprintf("e-%d-%d", i, j), Type: "Bench", Data: benchData}
						}
						res, err := s.Append(context.Background(), stream, eventstore.Exact(version), evs...)
						if err != nil {
							fail.Store(err)
							return
						}
						version = res.NextExpected
					}
				}()
			}
			wg.Wait()
			if err, _ := fail.Load().(error); err != nil {
				b.Fatal(err)
			}
			st := s.Stats()
			b.ReportMetric(float64(st.Events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(st.Appends)/float64(max(st.Commits, 1)), "appends/fsync")
		})
	}
}

// BenchmarkRead measures reading a 10,000-event store in pages of 1,000:
// one stream with ReadStream, and the global log with ReadAll.
func BenchmarkRead(b *testing.B) {
	const total, page, batch = 10000, 1000, 100
	s := open(b, b.TempDir())
	defer func() { _ = s.Close() }() // scratch store in a temp dir
	ctx := context.Background()
	for i := 0; i < total; i += batch {
		evs := make([]event.Envelope, batch)
		for j := range evs {
			evs[j] = event.Envelope{ID: fmt.Sprintf("e-%d", i+j), Type: "Bench", Data: benchData}
		}
		if _, err := s.Append(ctx, "read", eventstore.Any, evs...); err != nil {
			b.Fatal(err)
		}
	}
	reads := []struct {
		name string
		read func(from uint64) ([]event.Envelope, error)
	}{
		{"stream", func(from uint64) ([]event.Envelope, error) { return s.ReadStream(ctx, "read", from, page) }},
		{"all", func(from uint64) ([]event.Envelope, error) { return s.ReadAll(ctx, from, page) }},
	}
	for _, r := range reads {
		b.Run(r.name, func(b *testing.B) {
			start := time.Now()
			for i := 0; i < b.N; i++ {
				got, err := r.read(uint64(i%(total/page))*page + 1)
				if err != nil || len(got) != page {
					b.Fatalf("read %d events, %v", len(got), err)
				}
			}
			b.ReportMetric(float64(b.N*page)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// benchLogger keeps Pebble's informational lines out of benchmark output.
type benchLogger struct{}

func (benchLogger) Infof(string, ...any) {}

func (benchLogger) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }

func (benchLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }
