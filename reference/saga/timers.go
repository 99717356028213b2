package saga

import (
	"container/heap"
	"slices"
	"strings"
	"sync"
	"time"
)

// Timers holds the pending deadlines of many sagas in time order, for the
// runtime that fires them: after each transition the runtime gives it the
// saga's new state (Set), and it says when the next deadline is due
// (Next) and which are due now (Due). It is safe for concurrent use.
// A runtime recovering after a restart rebuilds it by Setting the state
// of each saga it loads.
type Timers struct {
	mu    sync.Mutex
	h     timerHeap
	byKey map[timerKey]*timer
}

type timerKey struct{ saga, name string }

type timer struct {
	key timerKey
	at  time.Time
	i   int // index in the heap
}

// Timer is one pending deadline of one saga.
type Timer struct {
	Saga     string
	Deadline Deadline
}

// NewTimers returns an empty set of timers.
func NewTimers() *Timers { return &Timers{byKey: map[timerKey]*timer{}} }

// Set makes saga's pending deadlines those of s: new ones armed, moved
// ones moved, cancelled and fired ones (and all, once s ended) disarmed.
func (ts *Timers) Set(saga string, s State) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for k, t := range ts.byKey {
		if k.saga != saga {
			continue
		}
		if _, ok := s.Deadlines[k.name]; !ok {
			heap.Remove(&ts.h, t.i)
			delete(ts.byKey, k)
		}
	}
	for name, at := range s.Deadlines {
		k := timerKey{saga, name}
		if t, ok := ts.byKey[k]; ok {
			t.at = at
			heap.Fix(&ts.h, t.i)
			continue
		}
		t := &timer{key: k, at: at}
		heap.Push(&ts.h, t)
		ts.byKey[k] = t
	}
}

// Next is when the earliest pending deadline is due; ok is false when
// none is pending.
func (ts *Timers) Next() (at time.Time, ok bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.h) == 0 {
		return time.Time{}, false
	}
	return ts.h[0].at, true
}

// Due lists the deadlines due at now, earliest first. They stay pending
// until a Set without them: a runtime that fails to fire one tries again.
func (ts *Timers) Due(now time.Time) []Timer {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var due []Timer
	for _, t := range ts.h {
		if !t.at.After(now) {
			due = append(due, Timer{Saga: t.key.saga, Deadline: Deadline{Name: t.key.name, At: t.at}})
		}
	}
	sortTimers(due)
	return due
}

// Len is the number of pending deadlines.
func (ts *Timers) Len() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.h)
}

type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer) //nolint:forcetypeassert // only timers are pushed
	t.i = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

func sortTimers(ts []Timer) {
	slices.SortFunc(ts, func(a, b Timer) int {
		if c := a.Deadline.At.Compare(b.Deadline.At); c != 0 {
			return c
		}
		if c := strings.Compare(a.Saga, b.Saga); c != 0 {
			return c
		}
		return strings.Compare(a.Deadline.Name, b.Deadline.Name)
	})
}
