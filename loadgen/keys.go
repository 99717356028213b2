package loadgen

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// MaxKeys bounds a key space. Ten million distinct keys is more than any
// broker partitioning or aggregate count a load run needs, and the runner
// names every key up front.
const MaxKeys = 10_000_000

// KeyDist picks the key of each request. Key depends only on n and the
// distribution's parameters and seed, never on earlier calls, so a run
// replays exactly from its seed, any request's key can be recomputed on its
// own (by a checker, or a run resumed at request n), and one KeyDist is safe
// for concurrent use.
type KeyDist interface {
	// Key picks the key for request n (from 0).
	Key(n uint64) KeyPick
}

// KeyPick is where one request goes.
type KeyPick struct {
	// Key is the key's index, in [0, keys).
	Key int
	// Op is the request's position in its key's sequence, from 0, for a
	// sequence distribution (KeysSeq): 0 creates the aggregate and SeqLen-1
	// is the last operation on it. It is 0 for every other distribution.
	Op int
	// Round counts how many times a sequence distribution has walked the
	// whole key space; a caller that wants a fresh aggregate for every
	// sequence names it by (Key, Round). It is 0 for other distributions.
	Round uint64
}

// KeyKind names a key distribution.
type KeyKind string

// The key distributions.
const (
	// KeysUniform spreads requests evenly over all keys.
	KeysUniform KeyKind = "uniform"
	// KeysZipf gives key k (from 0) a share proportional to 1/(k+1)^Skew:
	// a few keys are hot and a long tail is cold, as in most real traffic.
	KeysZipf KeyKind = "zipf"
	// KeysHot sends HotFraction of requests to the first HotKeys keys
	// (uniformly among them) and the rest to the other keys uniformly.
	KeysHot KeyKind = "hot"
	// KeysSeq sends SeqLen consecutive requests to one key before moving to
	// the next, so a system sees whole per-aggregate sequences (create,
	// update, ..., close) rather than one random operation per aggregate.
	KeysSeq KeyKind = "seq"
)

// KeySpec describes a key distribution independently of the key space and
// seed, which come from Config; it is what ParseKeys reads and a workload
// file holds. Only the fields of its Dist are used.
type KeySpec struct {
	// Dist is the distribution; "" means KeysUniform.
	Dist KeyKind
	// Skew is the Zipf exponent s: finite and > 1. The larger, the hotter
	// the first keys: over 1000 keys, key 0 gets 14% of requests at 1.01,
	// 23% at 1.2 and 61% at 2 (where the first ten keys get 94%).
	Skew float64
	// HotFraction, in [0, 1], is the share of requests sent to the hot keys.
	HotFraction float64
	// HotKeys, from 1 to the number of keys, is how many keys are hot: the
	// first HotKeys ones. When every key is hot, every request goes to one.
	HotKeys int
	// SeqLen, at least 1, is the number of operations in each key's sequence.
	SeqLen int
}

// Validate returns every problem with s that does not depend on the key
// space, joined by errors.Join, each wrapping ErrBadKeyDist; or nil.
func (s KeySpec) Validate() error {
	var errs []error
	switch s.Dist {
	case "", KeysUniform:
	case KeysZipf:
		if math.IsNaN(s.Skew) || math.IsInf(s.Skew, 0) || s.Skew <= 1 {
			errs = append(errs, fmt.Errorf("zipf skew %v (want finite and > 1): %w", s.Skew, ErrBadKeyDist))
		}
	case KeysHot:
		if !(s.HotFraction >= 0 && s.HotFraction <= 1) { // also catches NaN
			errs = append(errs, fmt.Errorf("hot fraction %v (want 0 to 1): %w", s.HotFraction, ErrBadKeyDist))
		}
		if s.HotKeys < 1 || s.HotKeys > MaxKeys {
			errs = append(errs, fmt.Errorf("hot keys %d (want 1 to %d): %w", s.HotKeys, MaxKeys, ErrBadKeyDist))
		}
	case KeysSeq:
		if s.SeqLen < 1 {
			errs = append(errs, fmt.Errorf("sequence length %d (want at least 1): %w", s.SeqLen, ErrBadKeyDist))
		}
	default:
		errs = append(errs, fmt.Errorf("distribution %q (want uniform, zipf, hot or seq): %w", s.Dist, ErrBadKeyDist))
	}
	return errors.Join(errs...)
}

// NewKeyDist builds the distribution s describes over keys keys, seeded by
// seed (use Config.Seed, so one seed replays a whole run). It returns every
// problem joined: keys outside 1..MaxKeys wraps ErrBadKeys; the rest wrap
// ErrBadKeyDist. Memory is constant in keys.
func NewKeyDist(s KeySpec, keys int, seed int64) (KeyDist, error) {
	var errs []error
	if err := s.Validate(); err != nil {
		errs = append(errs, err)
	}
	if keys < 1 || keys > MaxKeys {
		errs = append(errs, fmt.Errorf("keys %d: %w", keys, ErrBadKeys))
	} else if s.Dist == KeysHot && s.HotKeys > keys {
		errs = append(errs, fmt.Errorf("hot keys %d above keys %d: %w", s.HotKeys, keys, ErrBadKeyDist))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	base := mix64(uint64(seed) ^ 0x6a09e667f3bcc909)
	switch s.Dist {
	case KeysZipf:
		return newZipfKeys(keys, s.Skew, base), nil
	case KeysHot:
		return hotKeys{keys: uint64(keys), hot: uint64(s.HotKeys), frac: s.HotFraction, base: base}, nil
	case KeysSeq:
		return seqKeys{keys: uint64(keys), seqLen: uint64(s.SeqLen)}, nil
	default:
		return uniformKeys{keys: uint64(keys), base: base}, nil
	}
}

// stream is a SplitMix64 sequence started at a point derived from (seed,
// n): each request gets its own short run of random numbers, so no request's
// draws depend on how many draws earlier requests made.
type stream struct{ s uint64 }

const golden = 0x9e3779b97f4a7c15

func newStream(base, n uint64) stream { return stream{base ^ mix64(n+golden)} }

func (r *stream) next() uint64 {
	r.s += golden
	return mix64(r.s)
}

// float64 is uniform in [0, 1) with 53 random bits.
func (r *stream) float64() float64 { return float64(r.next()>>11) * 0x1p-53 }

// below is uniform in [0, n) by Lemire's multiply-shift; its bias, at most
// n/2^64, is far below anything a load run can observe for n <= MaxKeys.
func (r *stream) below(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

// mix64 is SplitMix64's finaliser (Steele, Lea, Flood 2014).
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

type uniformKeys struct{ keys, base uint64 }

func (u uniformKeys) Key(n uint64) KeyPick {
	r := newStream(u.base, n)
	return KeyPick{Key: int(r.below(u.keys))}
}

func (u uniformKeys) String() string { return fmt.Sprintf("uniform{keys=%d}", u.keys) }

type hotKeys struct {
	keys, hot, base uint64
	frac            float64
}

func (h hotKeys) Key(n uint64) KeyPick {
	r := newStream(h.base, n)
	if r.float64() < h.frac || h.hot == h.keys {
		return KeyPick{Key: int(r.below(h.hot))}
	}
	return KeyPick{Key: int(h.hot + r.below(h.keys-h.hot))}
}

func (h hotKeys) String() string {
	return fmt.Sprintf("hot{keys=%d hot=%d fraction=%g}", h.keys, h.hot, h.frac)
}

type seqKeys struct{ keys, seqLen uint64 }

func (s seqKeys) Key(n uint64) KeyPick {
	seq := n / s.seqLen
	return KeyPick{Key: int(seq % s.keys), Op: int(n % s.seqLen), Round: seq / s.keys}
}

func (s seqKeys) String() string { return fmt.Sprintf("seq{keys=%d len=%d}", s.keys, s.seqLen) }

// zipfKeys draws by rejection-inversion (Hörmann and Derflinger, "Rejection-
// inversion to generate variates from monotone discrete distributions",
// 1996), the method of math/rand/v2's Zipf with v = 1, in O(1) memory. It is
// rewritten here for two reasons: math/rand/v2.Zipf draws from a shared
// *rand.Rand, which would make request n's key depend on every earlier
// draw; and its loop has no bound, so parameters that make the arithmetic
// produce NaN would spin forever. h and hinv are shifted by 1/(1-s) and use
// expm1/log1p, which leaves the method unchanged (only differences of h
// matter) but keeps it accurate for s close to 1, where the unshifted form
// subtracts two numbers near 1/(1-s).
type zipfKeys struct {
	keys, base                     uint64
	skew                           float64
	oneMinusQ, oneMinusQInv        float64
	hxm, hx0MinusHxm, acceptBounds float64
}

// zipfMaxTries bounds rejection. The first try was accepted at least 98% of
// the time for every skew from 1+1e-15 to MaxFloat64 and every key count
// from 1 to MaxKeys we measured, so 64 tries practically never run out; the
// bound is there so that no input can make Key loop.
const zipfMaxTries = 64

func newZipfKeys(keys int, skew float64, base uint64) zipfKeys {
	z := zipfKeys{keys: uint64(keys), base: base, skew: skew}
	z.oneMinusQ = 1 - skew
	z.oneMinusQInv = 1 / z.oneMinusQ
	imax := float64(keys - 1)
	z.hxm = z.h(imax + 0.5)
	z.hx0MinusHxm = z.h(0.5) - 1 - z.hxm
	z.acceptBounds = 1 - z.hinv(z.h(1.5)-math.Exp(-skew*math.Ln2))
	return z
}

// h is an antiderivative of the hat function (1+x)^-s.
func (z zipfKeys) h(x float64) float64 {
	return math.Expm1(z.oneMinusQ*math.Log1p(x)) * z.oneMinusQInv
}

func (z zipfKeys) hinv(x float64) float64 {
	return math.Expm1(math.Log1p(z.oneMinusQ*x) * z.oneMinusQInv)
}

func (z zipfKeys) Key(n uint64) KeyPick {
	r := newStream(z.base, n)
	k := 0.0
	for range zipfMaxTries {
		ur := z.hxm + r.float64()*z.hx0MinusHxm
		x := z.hinv(ur)
		k = math.Floor(x + 0.5)
		if k-x <= z.acceptBounds || ur >= z.h(k+0.5)-math.Exp(-math.Log1p(k)*z.skew) {
			break
		}
	}
	switch {
	case !(k >= 0): // NaN included
		k = 0
	case k > float64(z.keys-1):
		k = float64(z.keys - 1)
	}
	return KeyPick{Key: int(k)}
}

func (z zipfKeys) String() string { return fmt.Sprintf("zipf{keys=%d skew=%g}", z.keys, z.skew) }
