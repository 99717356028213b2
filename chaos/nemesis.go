package chaos

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Nemesis shapes a seeded fault schedule, the way Jepsen's nemesis
// generators do: over Span, faults drawn from Faults (by index) one at a
// time, each held between MinHold and MaxHold, separated by quiet gaps
// between MinGap and MaxGap. The same Nemesis and Seed always give the
// same schedule, so a failing run is replayed exactly from its seed.
type Nemesis struct {
	Seed int64
	// Faults is how many faults the schedule picks from (indexes into the
	// caller's fault list).
	Faults           int
	Span             time.Duration
	MinHold, MaxHold time.Duration
	MinGap, MaxGap   time.Duration
}

// Interval is one fault of a schedule: fault Fault held from Start to
// End, both measured from the schedule's start.
type Interval struct {
	Fault      int           `json:"fault"`
	Start, End time.Duration `json:"-"`
	// StartMS and EndMS are Start and End in milliseconds, for journals.
	StartMS int64 `json:"startMs"`
	EndMS   int64 `json:"endMs"`
}

// Schedule is a list of fault intervals in start order, none overlapping.
type Schedule struct {
	Seed      int64      `json:"seed"`
	Intervals []Interval `json:"intervals"`
}

// maxIntervals bounds a schedule: a nemesis with tiny holds and gaps over
// a long span would otherwise allocate without limit.
const maxIntervals = 10_000

// ErrBadNemesis is a Nemesis that cannot make a schedule.
var ErrBadNemesis = errors.New("chaos: bad nemesis")

func (n Nemesis) validate() error {
	switch {
	case n.Faults < 1:
		return fmt.Errorf("%w: no faults to choose from", ErrBadNemesis)
	case n.Span <= 0:
		return fmt.Errorf("%w: span %v, want > 0", ErrBadNemesis, n.Span)
	case n.MinHold <= 0 || n.MaxHold < n.MinHold:
		return fmt.Errorf("%w: hold %v to %v, want 0 < min <= max", ErrBadNemesis, n.MinHold, n.MaxHold)
	case n.MinGap < 0 || n.MaxGap < n.MinGap:
		return fmt.Errorf("%w: gap %v to %v, want 0 <= min <= max", ErrBadNemesis, n.MinGap, n.MaxGap)
	case n.Span/(n.MinHold+n.MinGap) > maxIntervals:
		return fmt.Errorf("%w: span %v over holds of %v and gaps of %v makes more than %d faults", ErrBadNemesis, n.Span, n.MinHold, n.MinGap, maxIntervals)
	}
	return nil
}

// Schedule draws the schedule. Each fault starts after a gap and ends
// within Span; the last one is dropped when it would not fit.
func (n Nemesis) Schedule() (Schedule, error) {
	if err := n.validate(); err != nil {
		return Schedule{}, err
	}
	r := rand.New(rand.NewPCG(uint64(n.Seed), 0x6e656d65736973))
	between := func(lo, hi time.Duration) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
	}
	s := Schedule{Seed: n.Seed}
	at := time.Duration(0)
	for {
		start := at + between(n.MinGap, n.MaxGap)
		end := start + between(n.MinHold, n.MaxHold)
		if end > n.Span {
			return s, nil
		}
		s.Intervals = append(s.Intervals, Interval{Fault: r.IntN(n.Faults), Start: start, End: end,
			StartMS: start.Milliseconds(), EndMS: end.Milliseconds()})
		at = end
	}
}

// Describe renders the schedule with the faults' names, one interval a
// line, for logs and failure messages.
func (s Schedule) Describe(faults []Fault) string {
	var b strings.Builder
	fmt.Fprintf(&b, "schedule (seed %d, %d faults):", s.Seed, len(s.Intervals))
	for _, in := range s.Intervals {
		name := fmt.Sprintf("fault %d", in.Fault)
		if in.Fault >= 0 && in.Fault < len(faults) {
			name = faults[in.Fault].Name()
		}
		fmt.Fprintf(&b, "\n  %v – %v  %s", in.Start, in.End, name)
	}
	return b.String()
}

// ParseRange reads a duration range written MIN-MAX ("1s-3s") or a
// single duration ("2s", min = max), as the nemesis flags take them.
func ParseRange(s string) (lo, hi time.Duration, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = time.ParseDuration(strings.TrimSpace(a)); err != nil {
		return 0, 0, fmt.Errorf("range %q: %w", s, err)
	}
	hi = lo
	if isRange {
		if hi, err = time.ParseDuration(strings.TrimSpace(b)); err != nil {
			return 0, 0, fmt.Errorf("range %q: %w", s, err)
		}
	}
	if lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("range %q: want 0 <= MIN <= MAX", s)
	}
	return lo, hi, nil
}
