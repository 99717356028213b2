package check

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/history"
)

// sb builds event-store histories the way record.Store writes them: each
// op gets the next Index and one millisecond per op, and a completion
// copies its process's pending invoke.
type sb struct {
	ops     []history.Op
	pending map[string]history.Op
}

func newSB() *sb { return &sb{pending: map[string]history.Op{}} }

func (b *sb) add(op history.Op) *sb {
	op.Index = int64(len(b.ops))
	op.Time = time.Duration(len(b.ops)) * time.Millisecond
	b.ops = append(b.ops, op)
	return b
}

// app is process p invoking an append of n events, the first msg, to
// stream expecting exp.
func (b *sb) app(p, stream, exp, msg string, n int64) *sb {
	op := history.Op{Process: p, Type: history.Invoke, F: history.Append, Key: stream, Value: exp, MsgID: msg, Seq: n}
	b.pending[p] = op
	return b.add(op)
}

// read is process p invoking a version read of stream.
func (b *sb) read(p, stream string) *sb {
	op := history.Op{Process: p, Type: history.Invoke, F: history.Read, Key: stream}
	b.pending[p] = op
	return b.add(op)
}

// ok completes p's operation at version v.
func (b *sb) ok(p string, v int64) *sb {
	op := b.pending[p]
	delete(b.pending, p)
	op.Type, op.Seq = history.OK, v
	return b.add(op)
}

// fail completes p's operation with a refusal saying why.
func (b *sb) fail(p, why string) *sb {
	op := b.pending[p]
	delete(b.pending, p)
	op.Type, op.Error = history.Fail, why
	return b.add(op)
}

// info completes p's operation with an unknown outcome.
func (b *sb) info(p string) *sb {
	op := b.pending[p]
	delete(b.pending, p)
	op.Type, op.Error = history.Info, "context deadline exceeded"
	return b.add(op)
}

// commit is the commit op of one event.
func (b *sb) commit(p, stream, msg string, v int64) *sb {
	return b.add(history.Op{Process: p, Type: history.OK, F: history.Commit, Key: stream, MsgID: msg, Seq: v})
}

const conflict = `eventstore: wrong expected version on "s": expected 0, actual 1`

type storeCase struct {
	name  string
	build func(b *sb)
	// want lists each anomaly's witness as op indices (exact for the OCC
	// checker; ops that must be in it for the linearizability checker).
	want [][]int64
	// summary must appear in the first anomaly's summary.
	summary string
	checked int
}

func witnessIndices(a Anomaly) []int64 {
	var idx []int64
	for _, op := range a.Witness {
		idx = append(idx, op.Index)
	}
	return idx
}

func summaries(r Result) string {
	var s []string
	for _, a := range r.Anomalies {
		s = append(s, a.Summary)
	}
	return strings.Join(s, "\n")
}

func TestOptimisticConcurrency(t *testing.T) {
	cases := []storeCase{
		{name: "sequential appends and unrelated streams", checked: 5, build: func(b *sb) {
			b.app("w1", "s", "no-stream", "a", 1).ok("w1", 1).commit("w1", "s", "a", 1)
			b.app("w2", "s", "1", "b", 2).ok("w2", 3)
			b.app("w1", "s", "3", "d", 1).ok("w1", 4)
			b.app("w1", "t", "no-stream", "e", 1).ok("w1", 1) // same version, other stream
			b.app("w2", "t", "any", "f", 1).ok("w2", 2)
		}},
		{name: "a conflict that failed", checked: 1, build: func(b *sb) {
			b.app("w1", "s", "0", "a", 1).app("w2", "s", "0", "b", 1)
			b.ok("w1", 1).fail("w2", conflict)
		}},
		{name: "an idempotent retry, by the same and by another process", checked: 3, build: func(b *sb) {
			b.app("w1", "s", "no-stream", "a", 2).ok("w1", 2)
			b.app("w1", "s", "no-stream", "a", 2).ok("w1", 2)
			b.app("w2", "s", "no-stream", "a", 2).ok("w2", 2)
		}},
		{name: "an append of unknown outcome beside a winner", checked: 1, build: func(b *sb) {
			b.app("w1", "s", "0", "a", 1).app("w2", "s", "0", "b", 1)
			b.info("w1").ok("w2", 1)
			b.app("w3", "s", "0", "c", 1) // still in flight
		}},
		{name: "any and exists promise no single winner", checked: 3, build: func(b *sb) {
			b.app("w1", "s", "any", "a", 1).app("w2", "s", "any", "b", 1)
			b.ok("w1", 1).ok("w2", 2)
			b.app("w1", "s", "exists", "c", 1).ok("w1", 3)
		}},
		{name: "two writers both ok at the same expected version", checked: 2,
			want:    [][]int64{{0, 1, 2, 3}},
			summary: "stream s: two appends both succeeded expecting version 4: w1 (first event a) and w2 (first event b)",
			build: func(b *sb) {
				b.app("w1", "s", "4", "a", 1).app("w2", "s", "4", "b", 1)
				b.ok("w1", 5).ok("w2", 5) // both claim version 5: one write lost
			}},
		{name: "no-stream and 0 are the same expectation", checked: 2,
			want: [][]int64{{0, 1, 2, 3}}, summary: "stream s: two appends",
			build: func(b *sb) {
				b.app("w1", "s", "no-stream", "a", 1).ok("w1", 1)
				b.app("w2", "s", "0", "b", 1).ok("w2", 1)
			}},
		{name: "a store that ignored the expectation", checked: 2,
			want:    [][]int64{{1, 3}, {0, 1, 2, 3}},
			summary: "stream s: append by w2 expecting version 0 with 1 event(s) succeeded at version 2, not 1",
			build: func(b *sb) {
				b.app("w1", "s", "0", "a", 1).app("w2", "s", "0", "b", 1)
				b.ok("w1", 1).ok("w2", 2)
			}},
		{name: "a retry with another event count is another append", checked: 2,
			want: [][]int64{{0, 1, 2, 3}}, summary: "w1 (first event a) and w1 (first event a)",
			build: func(b *sb) {
				b.app("w1", "s", "2", "a", 1).ok("w1", 3)
				b.app("w1", "s", "2", "a", 2).ok("w1", 4)
			}},
		{name: "three winners: each loser against the first", checked: 4,
			want: [][]int64{{0, 1, 2, 3}, {0, 1, 4, 5}},
			build: func(b *sb) {
				b.app("w1", "s", "1", "a", 1).ok("w1", 2)
				b.app("w2", "s", "1", "b", 1).ok("w2", 2)
				b.app("w3", "s", "1", "c", 1).ok("w3", 2)
				b.app("w2", "s", "1", "b", 1).ok("w2", 2) // w2's retry: not another loser
			}},
	}
	c := OptimisticConcurrency()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newSB()
			tc.build(b)
			r := c.Check(b.ops)
			if r.Invariant != InvOptimisticConcurrency || c.Name() != InvOptimisticConcurrency {
				t.Errorf("Invariant = %q, Name = %q", r.Invariant, c.Name())
			}
			var got [][]int64
			for _, a := range r.Anomalies {
				got = append(got, witnessIndices(a))
				if last := a.Witness[len(a.Witness)-1]; a.At != last.Time {
					t.Errorf("At = %v, want the last witness op's %v", a.At, last.Time)
				}
			}
			if !slices.EqualFunc(got, tc.want, slices.Equal[[]int64]) {
				t.Fatalf("witnesses = %v, want %v\nanomalies:\n%s\nhistory:\n%s", got, tc.want, summaries(r), dump(b.ops))
			}
			if r.Valid != (len(tc.want) == 0) {
				t.Errorf("Valid = %v with %d anomalies", r.Valid, len(r.Anomalies))
			}
			if r.Checked != tc.checked {
				t.Errorf("Checked = %d, want %d", r.Checked, tc.checked)
			}
			if tc.summary != "" && !strings.Contains(r.Anomalies[0].Summary, tc.summary) {
				t.Errorf("summary %q does not contain %q", r.Anomalies[0].Summary, tc.summary)
			}
		})
	}
}

func TestPairStoreOps(t *testing.T) {
	b := newSB()
	b.app("w1", "s", "0", "a", 1) // 0: left in flight by the next invoke
	b.app("w1", "s", "0", "b", 1) // 1
	b.read("w2", "s")             // 2
	b.ok("w1", 1)                 // 3: completes 1
	b.commit("w1", "s", "b", 1)   // 4: not an append or read
	b.ok("w2", 1)                 // 5: completes 2
	b.ok("w3", 1)                 // 6: no invoke
	b.read("w3", "s")             // 7: in flight at the end
	got := pairStoreOps(b.ops)
	want := []storeOp{{0, none}, {1, 3}, {2, 5}, {7, none}}
	if !slices.Equal(got, want) {
		t.Fatalf("pairStoreOps = %v, want %v", got, want)
	}
}
