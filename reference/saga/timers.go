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
	mu     sync.Mutex
	h      timerHeap
	bySaga map[string]map[string]*timer // saga → deadline name → its timer
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
func NewTimers() *Timers { return &Timers{bySaga: map[string]map[string]*timer{}} }

// Set makes saga's pending deadlines those of s: new ones armed, moved
// ones moved, cancelled and fired ones (and all, once s ended) disarmed.
// It costs the saga's own deadlines, not all pending ones: a runtime calls
// it on every transition.
func (ts *Timers) Set(saga string, s State) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	mine := ts.bySaga[saga]
	for name, t := range mine {
		if _, ok := s.Deadlines[name]; !ok {
			heap.Remove(&ts.h, t.i)
			delete(mine, name)
		}
	}
	for name, at := range s.Deadlines {
		if t, ok := mine[name]; ok {
			t.at = at
			heap.Fix(&ts.h, t.i)
			continue
		}
		if mine == nil {
			mine = map[string]*timer{}
			ts.bySaga[saga] = mine
		}
		t := &timer{key: timerKey{saga, name}, at: at}
		heap.Push(&ts.h, t)
		mine[name] = t
	}
	if len(mine) == 0 {
		delete(ts.bySaga, saga)
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
	// Walk the heap from its root, pruning each subtree whose root is not
	// due: the cost follows the deadlines due, not all pending ones.
	var due []Timer
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(ts.h) || ts.h[i].at.After(now) {
			continue
		}
		t := ts.h[i]
		due = append(due, Timer{Saga: t.key.saga, Deadline: Deadline{Name: t.key.name, At: t.at}})
		stack = append(stack, 2*i+1, 2*i+2)
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
