package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// draws is the sample size of the distribution tests; with a fixed seed the
// counts are deterministic, and tolerances are five standard deviations so
// that a correct implementation passes with any seed and a wrong one fails.
const draws = 100_000

func mustKeyDist(t *testing.T, s KeySpec, keys int, seed int64) KeyDist {
	t.Helper()
	d, err := NewKeyDist(s, keys, seed)
	if err != nil {
		t.Fatalf("NewKeyDist(%+v, %d) = %v", s, keys, err)
	}
	return d
}

// counts draws n = 0..draws-1 and fails on a key outside [0, keys).
func counts(t *testing.T, d KeyDist, keys int) []int {
	t.Helper()
	c := make([]int, keys)
	for n := range uint64(draws) {
		p := d.Key(n)
		if p.Key < 0 || p.Key >= keys {
			t.Fatalf("Key(%d) = %+v, outside [0, %d)", n, p, keys)
		}
		c[p.Key]++
	}
	return c
}

// within fails unless got successes out of draws is within five standard
// deviations of probability p.
func within(t *testing.T, what string, got int, p float64) {
	t.Helper()
	mean := p * draws
	sd := math.Sqrt(draws * p * (1 - p))
	if math.Abs(float64(got)-mean) > 5*sd+0.5 {
		t.Errorf("%s: %d of %d draws, want %.0f ± %.0f (p=%.4f)", what, got, draws, mean, 5*sd, p)
	}
}

func TestNewKeyDistValidate(t *testing.T) {
	tests := []struct {
		name string
		spec KeySpec
		keys int
		want []error
	}{
		{"uniform", KeySpec{}, 10, nil},
		{"uniform at the key bound", KeySpec{Dist: KeysUniform}, MaxKeys, nil},
		{"no keys", KeySpec{}, 0, []error{ErrBadKeys}},
		{"too many keys", KeySpec{}, MaxKeys + 1, []error{ErrBadKeys}},
		{"zipf", KeySpec{Dist: KeysZipf, Skew: 1.1}, 10, nil},
		{"zipf skew 1", KeySpec{Dist: KeysZipf, Skew: 1}, 10, []error{ErrBadKeyDist}},
		{"zipf skew below 1", KeySpec{Dist: KeysZipf, Skew: 0.5}, 10, []error{ErrBadKeyDist}},
		{"zipf skew NaN", KeySpec{Dist: KeysZipf, Skew: math.NaN()}, 10, []error{ErrBadKeyDist}},
		{"zipf skew infinite", KeySpec{Dist: KeysZipf, Skew: math.Inf(1)}, 10, []error{ErrBadKeyDist}},
		{"hot", KeySpec{Dist: KeysHot, HotFraction: 0.9, HotKeys: 10}, 10, nil},
		{"hot fraction above 1", KeySpec{Dist: KeysHot, HotFraction: 1.01, HotKeys: 1}, 10, []error{ErrBadKeyDist}},
		{"hot fraction negative", KeySpec{Dist: KeysHot, HotFraction: -0.1, HotKeys: 1}, 10, []error{ErrBadKeyDist}},
		{"hot fraction NaN", KeySpec{Dist: KeysHot, HotFraction: math.NaN(), HotKeys: 1}, 10, []error{ErrBadKeyDist}},
		{"no hot keys", KeySpec{Dist: KeysHot, HotFraction: 0.5}, 10, []error{ErrBadKeyDist}},
		{"more hot keys than keys", KeySpec{Dist: KeysHot, HotFraction: 0.5, HotKeys: 11}, 10, []error{ErrBadKeyDist}},
		{"seq", KeySpec{Dist: KeysSeq, SeqLen: 4}, 10, nil},
		{"empty sequences", KeySpec{Dist: KeysSeq}, 10, []error{ErrBadKeyDist}},
		{"unknown distribution", KeySpec{Dist: "pareto"}, 10, []error{ErrBadKeyDist}},
		{"everything wrong at once", KeySpec{Dist: KeysHot, HotFraction: 2}, -1, []error{ErrBadKeyDist, ErrBadKeys}},
	}
	all := []error{ErrBadKeys, ErrBadKeyDist}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewKeyDist(tt.spec, tt.keys, 1)
			if (err == nil) != (len(tt.want) == 0) || (err == nil) != (d != nil) {
				t.Fatalf("NewKeyDist = (%v, %v), want errors %v", d, err, tt.want)
			}
			for _, s := range all {
				wanted := false
				for _, w := range tt.want {
					wanted = wanted || errors.Is(w, s)
				}
				if errors.Is(err, s) != wanted {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, !wanted, wanted)
				}
			}
		})
	}
}

func TestUniformKeys(t *testing.T) {
	const keys = 10
	c := counts(t, mustKeyDist(t, KeySpec{}, keys, 1), keys)
	for k, n := range c {
		within(t, "key "+strconv.Itoa(k), n, 1.0/keys)
	}
}

func TestZipfKeys(t *testing.T) {
	tests := []struct {
		keys int
		skew float64
	}{
		{1000, 1.2},
		{1000, 2},
		{10, 1.5},
		{2, 3},
		{1_000_000, 1.01},
		// Close to 1 the unshifted rejection-inversion formulas cancel
		// catastrophically; the expm1/log1p form must still match theory.
		{1000, 1 + 1e-12},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("skew %v keys %d", tt.skew, tt.keys), func(t *testing.T) {
			d := mustKeyDist(t, KeySpec{Dist: KeysZipf, Skew: tt.skew}, tt.keys, 7)
			got := make(map[int]int)
			for n := range uint64(draws) {
				p := d.Key(n)
				if p.Key < 0 || p.Key >= tt.keys || p.Op != 0 || p.Round != 0 {
					t.Fatalf("Key(%d) = %+v, outside [0, %d) or with a sequence position", n, p, tt.keys)
				}
				got[p.Key]++
			}
			// P(k) = (k+1)^-s / H where H = Σ_{i=1..keys} i^-s.
			var h float64
			for i := tt.keys; i >= 1; i-- { // smallest terms first, for accuracy
				h += math.Pow(float64(i), -tt.skew)
			}
			for k := range min(tt.keys, 5) {
				within(t, "key "+strconv.Itoa(k), got[k], math.Pow(float64(k+1), -tt.skew)/h)
			}
		})
	}
}

func TestZipfSkewPutsMostOnKeyZero(t *testing.T) {
	c := counts(t, mustKeyDist(t, KeySpec{Dist: KeysZipf, Skew: 2}, 10_000, 3), 10_000)
	if c[0] < draws/2 {
		t.Fatalf("key 0 got %d of %d requests at skew 2, want most (about 61%%)", c[0], draws)
	}
	for k := 1; k < len(c); k++ {
		if c[k] > c[0] {
			t.Fatalf("key %d got %d > key 0's %d", k, c[k], c[0])
		}
	}
}

// TestZipfExtremeSkews checks that no finite skew makes Key leave the key
// space or loop: the arithmetic overflows to ±Inf or NaN at the extremes.
func TestZipfExtremeSkews(t *testing.T) {
	for _, keys := range []int{1, 2, MaxKeys} {
		for _, skew := range []float64{math.Nextafter(1, 2), 1 + 1e-9, 50, 1000, 1e300, math.MaxFloat64} {
			d := mustKeyDist(t, KeySpec{Dist: KeysZipf, Skew: skew}, keys, 1)
			zero := 0
			for n := range uint64(10_000) {
				k := d.Key(n).Key
				if k < 0 || k >= keys {
					t.Fatalf("skew %v keys %d: Key(%d) = %d", skew, keys, n, k)
				}
				if k == 0 {
					zero++
				}
			}
			if skew >= 50 && zero != 10_000 {
				t.Errorf("skew %v keys %d: key 0 got %d of 10000, want all", skew, keys, zero)
			}
		}
	}
}

func TestHotKeys(t *testing.T) {
	tests := []struct {
		name           string
		fraction       float64
		hot, keys      int
		wantHotShare   float64
		wantColdKeysIn int // cold keys must all be used (uniform), when any
	}{
		{"90% to 10 of 1000", 0.9, 10, 1000, 0.9, 990},
		{"half to 1 of 2", 0.5, 1, 2, 0.5, 1},
		{"nothing hot", 0, 10, 100, 0, 90},
		{"everything hot", 1, 10, 100, 1, 0},
		{"every key hot", 0.3, 100, 100, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustKeyDist(t, KeySpec{Dist: KeysHot, HotFraction: tt.fraction, HotKeys: tt.hot}, tt.keys, 11)
			c := counts(t, d, tt.keys)
			hot, coldUsed := 0, 0
			for k, n := range c {
				if k < tt.hot {
					hot += n
				} else if n > 0 {
					coldUsed++
				}
			}
			within(t, "hot share", hot, tt.wantHotShare)
			if coldUsed != tt.wantColdKeysIn {
				t.Errorf("%d cold keys used, want %d", coldUsed, tt.wantColdKeysIn)
			}
			if hot > 0 { // uniform among the hot keys
				for k := range tt.hot {
					within(t, "hot key "+strconv.Itoa(k), c[k], tt.wantHotShare/float64(tt.hot))
				}
			}
		})
	}
}

// TestHotKeysIndependentRequests checks that one request's draws do not
// leak into the next one's: whatever key request n got, request n+1 is hot
// with probability HotFraction. (Per-request streams that overlapped would
// reuse request n's key draw as request n+1's hot-or-cold coin.)
func TestHotKeysIndependentRequests(t *testing.T) {
	const hot, fraction = 10, 0.9
	d := mustKeyDist(t, KeySpec{Dist: KeysHot, HotFraction: fraction, HotKeys: hot}, 1000, 5)
	var after, nextHot [hot]int
	prev := d.Key(0).Key
	for n := uint64(1); n <= draws; n++ {
		k := d.Key(n).Key
		if prev < hot {
			after[prev]++
			if k < hot {
				nextHot[prev]++
			}
		}
		prev = k
	}
	for k := range hot {
		p, sd := float64(nextHot[k])/float64(after[k]), math.Sqrt(fraction*(1-fraction)/float64(after[k]))
		if math.Abs(p-fraction) > 5*sd {
			t.Errorf("after key %d, %.3f of requests were hot (%d of %d), want %v ± %.3f", k, p, nextHot[k], after[k], fraction, 5*sd)
		}
	}
}

func TestSeqKeys(t *testing.T) {
	d := mustKeyDist(t, KeySpec{Dist: KeysSeq, SeqLen: 4}, 3, 99)
	var want []KeyPick
	for round := range uint64(2) {
		for key := range 3 {
			for op := range 4 {
				want = append(want, KeyPick{Key: key, Op: op, Round: round})
			}
		}
	}
	for n, w := range want {
		if got := d.Key(uint64(n)); got != w {
			t.Fatalf("Key(%d) = %+v, want %+v", n, got, w)
		}
	}
	// Far out, still exact: request 10^12 is op 0 of sequence 2.5·10^11.
	if got, w := d.Key(1e12), (KeyPick{Key: int(250_000_000_000 % 3), Op: 0, Round: 250_000_000_000 / 3}); got != w {
		t.Fatalf("Key(1e12) = %+v, want %+v", got, w)
	}
	one := mustKeyDist(t, KeySpec{Dist: KeysSeq, SeqLen: 1}, 5, 0)
	for n := range uint64(12) {
		if got, w := one.Key(n), (KeyPick{Key: int(n % 5), Round: n / 5}); got != w {
			t.Fatalf("seq:1 Key(%d) = %+v, want %+v", n, got, w)
		}
	}
}

// TestKeyDistReplayable checks that Key(n) is a function of the seed and n
// alone: the same in any call order, and different for another seed.
func TestKeyDistReplayable(t *testing.T) {
	specs := []KeySpec{
		{Dist: KeysUniform},
		{Dist: KeysZipf, Skew: 1.1},
		{Dist: KeysHot, HotFraction: 0.5, HotKeys: 100},
	}
	for _, s := range specs {
		t.Run(s.String(), func(t *testing.T) {
			a := mustKeyDist(t, s, 1000, 42)
			b := mustKeyDist(t, s, 1000, 42)
			other := mustKeyDist(t, s, 1000, 43)
			const n = 1000
			var fwd [n]KeyPick
			for i := range uint64(n) {
				fwd[i] = a.Key(i)
			}
			differ := 0
			for i := uint64(n); i > 0; i-- { // backwards, on another instance
				if got := b.Key(i - 1); got != fwd[i-1] {
					t.Fatalf("Key(%d) = %+v backwards, %+v forwards", i-1, got, fwd[i-1])
				}
				if other.Key(i-1) != fwd[i-1] {
					differ++
				}
			}
			if differ < n/4 {
				t.Errorf("seeds 42 and 43 agree on %d of %d keys", n-differ, n)
			}
		})
	}
}

func TestKeyDistMemoryIsConstant(t *testing.T) {
	for _, s := range []KeySpec{{}, {Dist: KeysZipf, Skew: 1.2}, {Dist: KeysHot, HotFraction: 0.9, HotKeys: MaxKeys}, {Dist: KeysSeq, SeqLen: 4}} {
		// TotalAlloc counts every goroutine's allocations (the runtime's,
		// parallel tests'), which only ever add: the least of a few tries
		// is the constructor's own.
		var d KeyDist
		grew := ^uint64(0)
		for range 5 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			d = mustKeyDist(t, s, MaxKeys, 1)
			runtime.ReadMemStats(&after)
			grew = min(grew, after.TotalAlloc-before.TotalAlloc)
		}
		if grew > 4096 {
			t.Errorf("%s over %d keys allocated %d bytes, want O(1)", s, MaxKeys, grew)
		}
		if allocs := testing.AllocsPerRun(100, func() { d.Key(12345) }); allocs != 0 {
			t.Errorf("%s: Key allocates %v times per call, want 0", s, allocs)
		}
	}
}

func BenchmarkKeyDist(b *testing.B) {
	for _, s := range []KeySpec{{}, {Dist: KeysZipf, Skew: 1.2}, {Dist: KeysHot, HotFraction: 0.9, HotKeys: 10}, {Dist: KeysSeq, SeqLen: 4}} {
		d, err := NewKeyDist(s, 100_000, 1)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.String(), func(b *testing.B) {
			var sink int
			for i := 0; b.Loop(); i++ {
				sink += d.Key(uint64(i)).Key
			}
			_ = sink
		})
	}
}

// TestRunUsesKeyDist: a run with a sequence distribution sends each key's
// operations together, numbered from 0, and a hot distribution puts its
// share on the hot keys.
func TestRunUsesKeyDist(t *testing.T) {
	d, err := NewKeyDist(KeySpec{Dist: KeysSeq, SeqLen: 3}, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[uint64]Request{}
	_, err = Run(t.Context(), Config{Rate: 2000, Duration: 50 * time.Millisecond, Workers: 1, Keys: 4, Seed: 1},
		DriverFunc(func(_ context.Context, r Request) error {
			mu.Lock()
			got[r.Seq] = r
			mu.Unlock()
			return nil
		}), WithKeyDist(d))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 6 {
		t.Fatalf("only %d requests", len(got))
	}
	for seq := uint64(0); seq < 6; seq++ {
		r := got[seq]
		if r.Op != int(seq%3) || (seq%3 != 0 && r.Key != got[seq-1].Key) {
			t.Fatalf("request %d: key %s op %d; want op %d of the previous key's sequence", seq, r.Key, r.Op, seq%3)
		}
	}
}
