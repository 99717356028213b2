package history_test

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/history"
)

// BenchmarkRecord measures what recording one op costs a run, beside the
// bare cost of building the op, so the instrumentation overhead per message
// can be read off directly.
func BenchmarkRecord(b *testing.B) {
	op := history.Op{Process: "loadgen", Type: history.OK, F: history.Publish, Topic: "shop.commands",
		Key: "o-17", MsgID: "place-o-17", Seq: 3}
	b.Run("bare", func(b *testing.B) {
		ops := make([]history.Op, 0, b.N)
		for range b.N {
			ops = append(ops, op)
		}
		if len(ops) != b.N {
			b.Fatal("lost ops")
		}
	})
	b.Run("recorder", func(b *testing.B) {
		r := history.NewRecorder(clock.Real{})
		for range b.N {
			r.Record(op)
		}
		if r.Len() != b.N {
			b.Fatal("lost ops")
		}
	})
	b.Run("recorder+file", func(b *testing.B) {
		w, err := history.CreateFile(filepath.Join(b.TempDir(), history.FileName))
		if err != nil {
			b.Fatal(err)
		}
		r := history.NewRecorder(clock.Real{}, history.WithFile(w))
		for range b.N {
			r.Record(op)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("recorder+jsonl-sink", func(b *testing.B) {
		r := history.NewRecorder(clock.Real{}, history.WithSink(io.Discard))
		for range b.N {
			r.Record(op)
		}
		if err := r.Flush(); err != nil {
			b.Fatal(err)
		}
	})
}
