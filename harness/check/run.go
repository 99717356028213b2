package check

import "github.com/edkit-dev/edkit/harness/history"

// indexedChecker is implemented by this package's checkers so that Run can
// build the interned index of a history once and share it.
type indexedChecker interface {
	checkIndex(ix *index) Result
}

// Run judges ops with every checker, in order. The package's own checkers
// share one index of the history, so adding a checker costs a fraction of a
// full pass; other Checker implementations get the ops as they are.
func Run(ops []history.Op, checkers ...Checker) []Result {
	var ix *index
	out := make([]Result, 0, len(checkers))
	for _, c := range checkers {
		if ic, ok := c.(indexedChecker); ok {
			if ix == nil {
				ix = newIndex(ops)
			}
			out = append(out, ic.checkIndex(ix))
			continue
		}
		out = append(out, c.Check(ops))
	}
	return out
}

// Valid reports whether every result held (permitted anomalies included),
// which is what a CI gate's exit code follows.
func Valid(results []Result) bool {
	for _, r := range results {
		if !r.Valid {
			return false
		}
	}
	return true
}
