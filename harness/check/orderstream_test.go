package check

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/history"
)

// hotKeyHistory is n ops over a few keys, so that each key holds far more
// ops than a partition may: two groups, redeliveries after nacks and after
// acks (neither an anomaly), and every 97th message first delivered to
// billing only after its successor on the key was acked (an anomaly).
func hotKeyHistory(n, keys int) []history.Op {
	ops := make([]history.Op, 0, n+16)
	add := func(op history.Op) {
		op.Index = int64(len(ops))
		op.Time = time.Duration(len(ops)) * time.Microsecond
		ops = append(ops, op)
	}
	seq := make([]int64, keys)
	held := make([][]history.Op, keys)
	for i := 0; len(ops) < n; i++ {
		k := i % keys
		seq[k]++
		base := history.Op{Process: "producer", Topic: "orders", Key: fmt.Sprintf("key-%d", k), MsgID: fmt.Sprintf("msg-%d", i), Seq: seq[k]}
		op := base
		op.Type, op.F = history.Invoke, history.Publish
		add(op)
		op.Type = history.OK
		add(op)
		for _, g := range [...]string{"billing", "shipping"} {
			c := base
			c.Process, c.Group, c.Type, c.Topic = "consumer-"+g, g, history.OK, ""
			c.F, c.Attempt = history.Deliver, 1
			var these []history.Op
			these = append(these, c)
			if i%40 == 0 {
				c.F, c.Value = history.Nack, "requeue"
				these = append(these, c)
				c.F, c.Value, c.Attempt = history.Deliver, "", 2
				these = append(these, c)
			}
			c.F = history.Ack
			these = append(these, c)
			if i%53 == 0 {
				c.F, c.Attempt = history.Deliver, c.Attempt+1
				these = append(these, c) // delivered again after its ack
			}
			if g == "billing" && i%97 == 0 && held[k] == nil {
				held[k] = these
				continue
			}
			for _, o := range these {
				add(o)
			}
			if g == "billing" && held[k] != nil && held[k][0].MsgID != base.MsgID {
				for _, o := range held[k] {
					add(o)
				}
				held[k] = nil
			}
		}
	}
	return ops
}

// TestOrderStreamsHotKeys: a key with more ops than a partition may hold
// is judged in two passes over its file, with the verdict Check gives on
// the whole history — the same anomalies, witnesses, counts and note.
func TestOrderStreamsHotKeys(t *testing.T) {
	for _, keys := range []int{1, 3} {
		ops := hotKeyHistory(40_000, keys)
		c := NewOrder(OrderOptions{MaxAnomalies: 5})
		want := Run(ops, c)[0]
		if want.Found < 10 || len(want.Anomalies) != 5 || !strings.HasPrefix(want.Anomalies[0].Summary, "skip:") {
			t.Fatalf("keys %d: the history's reorders are not anomalies: %s", keys, brief(want))
		}
		for _, maxOps := range []int{len(ops) + 1, 3000} {
			got, err := RunStream(history.NewSlice(ops), StreamOptions{MaxOps: maxOps, TempDir: t.TempDir()}, c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[0], want) {
				t.Errorf("keys %d maxOps %d:\n got %+v\nwant %+v", keys, maxOps, brief(got[0]), brief(want))
				for i := range min(len(got[0].Anomalies), len(want.Anomalies)) {
					if !reflect.DeepEqual(got[0].Anomalies[i], want.Anomalies[i]) {
						t.Errorf("anomaly %d:\n got %+v\nwant %+v", i, got[0].Anomalies[i], want.Anomalies[i])
					}
				}
			}
		}
	}
}

// TestOrderStreamCleanHotKey: in order, a hot key streams with no anomaly.
func TestOrderStreamCleanHotKey(t *testing.T) {
	ops := benchHistory(30_000) // 1000 keys, in order
	for i := range ops {
		ops[i].Key = "hot"
		ops[i].Seq = int64(i/8 + 1) // benchHistory's ops of one message are adjacent
	}
	for _, op := range ops {
		if op.F == history.Publish && op.Type == history.Invoke && op.Seq == 0 {
			t.Fatal("unseq'd op")
		}
	}
	got, err := RunStream(history.NewSlice(ops), StreamOptions{MaxOps: 1000, TempDir: t.TempDir()}, NewOrder(OrderOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if r := got[0]; !r.Valid || r.Found != 0 || r.Checked != 2 || r.Note != "" {
		t.Errorf("clean hot key: %s, want valid over 2 streams", brief(r))
	}
}

// TestSeqSetWindow: the delivered seqs of a stream hold a watermark and a
// bounded window above it; a seq the window passed over is counted, and
// its late delivery reads as a redelivery, never as a new anomaly.
func TestSeqSetWindow(t *testing.T) {
	var s seqSet
	for _, q := range []int64{1, 3, 2, 2, 5} {
		s.add(q)
	}
	if s.low != 3 || len(s.above) != 1 {
		t.Fatalf("after 1 3 2 2 5: low %d above %v, want 3 and {5}", s.low, s.above)
	}
	var forgotten int64
	for q := int64(7); q < 7+2*orderWindow; q++ { // 4 and 6 never come
		first, f := s.add(q)
		if !first {
			t.Fatalf("seq %d not new", q)
		}
		forgotten += f
	}
	if forgotten != 2 || len(s.above) > orderWindow {
		t.Errorf("forgot %d seqs with %d above the watermark, want 2 and at most %d", forgotten, len(s.above), orderWindow)
	}
	if first, _ := s.add(4); first {
		t.Error("seq 4, passed over, reads as a first delivery")
	}
	if first, _ := s.add(7 + 2*orderWindow); !first {
		t.Error("the next seq does not read as new")
	}
}
