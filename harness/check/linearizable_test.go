package check

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/history"
)

func TestLinearizableStore(t *testing.T) {
	cases := []storeCase{
		{name: "sequential appends and reads", checked: 6, build: func(b *sb) {
			b.app("w1", "s", "no-stream", "a", 1).ok("w1", 1)
			b.read("r", "s").ok("r", 1)
			b.app("w2", "s", "1", "b", 2).ok("w2", 3)
			b.read("r", "s").ok("r", 3)
			b.read("r", "t").ok("r", 0) // a stream never written
			b.app("w1", "s", "exists", "c", 1).ok("w1", 4)
		}},
		{name: "concurrent appends and reads, ordered by their outcomes", checked: 4, build: func(b *sb) {
			b.app("w1", "s", "0", "a", 1).app("w2", "s", "any", "b", 1).read("r1", "s").read("r2", "s")
			b.ok("r1", 0).ok("w2", 2).ok("r2", 2).ok("w1", 1)
		}},
		{name: "a conflict that failed", checked: 3, build: func(b *sb) {
			b.app("w1", "s", "0", "a", 1).app("w2", "s", "0", "b", 1)
			b.ok("w1", 1).fail("w2", conflict)
			b.app("w3", "s", "no-stream", "c", 1).fail("w3", conflict)
		}},
		{name: "idempotent retries", checked: 6, build: func(b *sb) {
			b.app("w1", "s", "no-stream", "a", 2).ok("w1", 2)
			b.app("w2", "s", "2", "b", 1).ok("w2", 3)
			b.app("w1", "s", "no-stream", "a", 2).ok("w1", 2) // the same result, nothing written
			b.app("w3", "s", "any", "a", 2).ok("w3", 2)
			b.app("w1", "s", "1", "a", 2).fail("w1", conflict) // a retry expecting elsewhere
			b.read("r", "s").ok("r", 3)
		}},
		{name: "an append of unknown outcome that happened", checked: 3, build: func(b *sb) {
			b.app("w1", "s", "0", "a", 1).info("w1")
			b.read("r", "s").ok("r", 1)
			b.app("w2", "s", "1", "b", 1).ok("w2", 2)
		}},
		{name: "an append of unknown outcome that did not happen", checked: 4, build: func(b *sb) {
			b.app("w1", "s", "0", "a", 1).info("w1")
			b.read("r", "s").ok("r", 0)
			b.app("w2", "s", "0", "b", 1).ok("w2", 1)
			b.read("r", "s").ok("r", 1)
		}},
		{name: "an append of unknown outcome, retried", checked: 3, build: func(b *sb) {
			b.app("w1", "s", "0", "a", 1).info("w1")
			b.app("w1", "s", "0", "a", 1).ok("w1", 1)
			b.read("r", "s").ok("r", 1)
		}},
		{name: "an append still in flight took effect", checked: 1, build: func(b *sb) {
			b.app("w1", "s", "0", "a", 1)
			b.read("r", "s").ok("r", 1)
		}},
		{name: "refusals other than conflicts and failed reads are left out", checked: 2, build: func(b *sb) {
			b.app("w1", "s", "0", "a", 1).fail("w1", "memstore: append s: event 0 has no ID: eventstore: invalid append")
			b.read("r", "s").fail("r", "eventstore: closed")
			b.app("w2", "s", "0", "b", 1).ok("w2", 1)
			b.read("r", "s").ok("r", 1)
		}},

		{name: "two writers both ok at the same expected version", checked: 2,
			want: [][]int64{{0, 1, 2, 3}}, summary: "stream s: not linearizable",
			build: func(b *sb) {
				b.app("w1", "s", "0", "a", 1).app("w2", "s", "0", "b", 1)
				b.ok("w1", 1).ok("w2", 1)
			}},
		{name: "a store that ignored the expectation", checked: 2,
			want: [][]int64{{2, 3}}, summary: "w2 append of 1 expecting 0 ok at version 2",
			build: func(b *sb) {
				b.app("w1", "s", "0", "a", 1).ok("w1", 1)
				b.app("w2", "s", "0", "b", 1).ok("w2", 2)
			}},
		{name: "a read saw a version that never existed", checked: 2,
			want: [][]int64{{2, 3}}, summary: "r read ok at version 5",
			build: func(b *sb) {
				b.app("w1", "s", "0", "a", 1).ok("w1", 1)
				b.read("r", "s").ok("r", 5)
			}},
		{name: "a read went backwards", checked: 4,
			want: [][]int64{{2, 3, 6, 7}}, summary: "(version 2), no order explains r read ok at version 1",
			build: func(b *sb) {
				b.app("w1", "s", "0", "a", 1).ok("w1", 1)
				b.app("w1", "s", "1", "b", 1).ok("w1", 2)
				b.read("r", "s").ok("r", 2)
				b.read("r", "s").ok("r", 1)
			}},
		{name: "a conflict though the expectation held", checked: 1,
			want: [][]int64{{0, 1}}, summary: "after 0 of its 1 appends and reads (version 0)",
			build: func(b *sb) {
				b.app("w1", "s", "no-stream", "a", 1).fail("w1", conflict)
			}},
		{name: "a retry answered at another version", checked: 2,
			want: [][]int64{{2, 3}}, summary: "stream s",
			build: func(b *sb) {
				b.app("w1", "s", "0", "a", 1).ok("w1", 1)
				b.app("w1", "s", "0", "a", 1).ok("w1", 2) // written twice
			}},
		{name: "one broken stream among clean ones", checked: 6,
			want: [][]int64{{6, 7}}, summary: "stream s2:",
			build: func(b *sb) {
				b.app("w1", "s1", "0", "a", 1).app("w2", "s2", "0", "b", 1).ok("w1", 1).ok("w2", 1)
				b.read("r", "s1").ok("r", 1)
				b.read("r", "s2").ok("r", 0) // lost b
				b.app("w3", "s3", "any", "c", 1).ok("w3", 1)
				b.read("r", "s3").ok("r", 1)
			}},
	}
	c := LinearizableStore(5 * time.Second)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newSB()
			tc.build(b)
			r := c.Check(b.ops)
			if r.Invariant != InvLinearizableStore || c.Name() != InvLinearizableStore {
				t.Errorf("Invariant = %q, Name = %q", r.Invariant, c.Name())
			}
			if len(r.Anomalies) != len(tc.want) || r.Valid != (len(tc.want) == 0) {
				t.Fatalf("Valid = %v with anomalies:\n%s\nwant %d\nhistory:\n%s", r.Valid, summaries(r), len(tc.want), dump(b.ops))
			}
			for i, a := range r.Anomalies {
				got := witnessIndices(a)
				for _, want := range tc.want[i] {
					if !slices.Contains(got, want) {
						t.Errorf("witness %v lacks op #%d\n%s", got, want, a.Summary)
					}
				}
				if len(got) > 20 || a.Invariant != InvLinearizableStore {
					t.Errorf("witness of %d ops, invariant %q", len(got), a.Invariant)
				}
			}
			if tc.summary != "" && !strings.Contains(r.Anomalies[0].Summary, tc.summary) {
				t.Errorf("summary %q does not contain %q", r.Anomalies[0].Summary, tc.summary)
			}
			if r.Checked != tc.checked {
				t.Errorf("Checked = %d, want %d", r.Checked, tc.checked)
			}
		})
	}
}

// TestLinearizableStoreWitnessBounded: a violation late in a long stream
// is shown by the ops around it, not the whole stream.
func TestLinearizableStoreWitnessBounded(t *testing.T) {
	b := newSB()
	for v := range int64(40) {
		b.app("w", "s", strconv.FormatInt(v, 10), fmt.Sprint("e", v), 1).ok("w", v+1)
	}
	b.read("r", "s").ok("r", 39) // the version before last: went backwards
	r := LinearizableStore(5 * time.Second).Check(b.ops)
	if r.Valid || len(r.Anomalies) != 1 {
		t.Fatalf("Valid = %v, anomalies:\n%s", r.Valid, summaries(r))
	}
	w := witnessIndices(r.Anomalies[0])
	if len(w) > 20 || !slices.Contains(w, 80) || !slices.Contains(w, 81) || !slices.Contains(w, 79) {
		t.Fatalf("witness %v: want at most 20 ops with the last append (78, 79) and the read (80, 81)", w)
	}
	if at := r.Anomalies[0].At; at != b.ops[81].Time {
		t.Errorf("At = %v, want the read's %v", at, b.ops[81].Time)
	}
}

// TestLinearizableStoreTimeout: when porcupine runs out of time, the
// verdict is unknown, never a failure — even on a broken history.
func TestLinearizableStoreTimeout(t *testing.T) {
	b := newSB()
	b.app("w1", "s", "0", "a", 1).app("w2", "s", "0", "b", 1).ok("w1", 1).ok("w2", 1)
	r := LinearizableStore(time.Nanosecond).Check(b.ops)
	if !r.Valid || len(r.Anomalies) != 0 || !strings.Contains(r.Note, "inconclusive") {
		t.Fatalf("Valid = %v, Note = %q, anomalies:\n%s", r.Valid, r.Note, summaries(r))
	}
}

// TestLinearizableStoreGenerated: a random history of a correct store,
// with conflicts and appends left in flight, is valid.
func TestLinearizableStoreGenerated(t *testing.T) {
	for seed := range int64(3) {
		ops := genStoreHistory(seed, 3000, 20, 60)
		r := LinearizableStore(10 * time.Second).Check(ops)
		if !r.Valid || r.Note != "" || r.Checked < 1400 {
			t.Fatalf("seed %d: Valid = %v, Checked = %d, Note = %q\n%s", seed, r.Valid, r.Checked, r.Note, summaries(r))
		}
	}
}

// genStoreHistory simulates procs processes appending (expecting the
// version current at their invoke) and reading on streams of a correct
// store, which applies each operation when it completes; nOps ops in all.
func genStoreHistory(seed int64, nOps, streams, procs int) []history.Op {
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	b := newSB()
	version := map[string]int64{}
	type call struct {
		read      bool
		stream    string
		exp, n    int64
		retryable bool
	}
	busy := map[string]call{}
	id := 0
	for len(b.ops) < nOps {
		p := "p" + strconv.Itoa(r.IntN(procs))
		if c, ok := busy[p]; ok {
			delete(busy, p)
			v := version[c.stream]
			switch {
			case c.read:
				b.ok(p, v)
			case c.exp == v:
				version[c.stream] = v + c.n
				b.ok(p, v+c.n)
			default:
				b.fail(p, conflict)
			}
			continue
		}
		s := "s" + strconv.Itoa(r.IntN(streams))
		if r.IntN(4) == 0 {
			b.read(p, s)
			busy[p] = call{read: true, stream: s}
			continue
		}
		id++
		c := call{stream: s, exp: version[s], n: int64(1 + r.IntN(3))}
		b.app(p, s, strconv.FormatInt(c.exp, 10), "e"+strconv.Itoa(id), c.n)
		busy[p] = c
	}
	return b.ops
}

// BenchmarkLinearizableStore judges 10,000 ops over 100 streams.
func BenchmarkLinearizableStore(b *testing.B) {
	ops := genStoreHistory(1, 10_000, 100, 200)
	c := LinearizableStore(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if r := c.Check(ops); !r.Valid || r.Note != "" {
			b.Fatalf("Valid = %v, Note = %q", r.Valid, r.Note)
		}
	}
}
