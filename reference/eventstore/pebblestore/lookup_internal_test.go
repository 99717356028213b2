package pebblestore

import (
	"context"
	"fmt"
	"testing"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// TestLookupAfterUnlockedMiss covers the race the unlocked ID lookup opens:
// an ID missed in Pebble and committed before the appender takes the lock
// must still be found, through recent or, after many commits, Pebble again.
func TestLookupAfterUnlockedMiss(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	ctx := context.Background()
	gen := s.gen.Load() // an appender's unlocked lookup of "x" missed here
	if _, err := s.Append(ctx, "a", eventstore.NoStream, event.Envelope{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		commits int // further commits before the appender takes the lock
		id      string
		found   bool
	}{
		{"recent", 0, "x", true},
		{"recent-miss", 0, "y", false},
		{"fallback-to-pebble", recentCommits + 5, "x", true},
		{"fallback-miss", 0, "y", false},
	}
	n := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := 0; i < c.commits; i++ {
				n++
				if _, err := s.Append(ctx, "b", eventstore.Any, event.Envelope{ID: fmt.Sprintf("b%d", n)}); err != nil {
					t.Fatal(err)
				}
			}
			s.mu.Lock()
			loc, _, ok, err := s.lookupID(c.id, nil, gen)
			s.mu.Unlock()
			if err != nil || ok != c.found {
				t.Fatalf("lookup %s: found %v, %v; want found %v", c.id, ok, err, c.found)
			}
			if ok && (loc.stream != "a" || loc.version != 1 || loc.position != 1) {
				t.Fatalf("lookup %s: %+v, want a v1 p1", c.id, loc)
			}
		})
	}
}

// TestIDFilter checks the filter never forgets an ID, across growth into
// several parts, and that false positives stay rare.
func TestIDFilter(t *testing.T) {
	f := newIDFilter()
	const n = 5 * filterFirstCapacity // grows into three parts
	for i := 0; i < n; i++ {
		f.add(fmt.Sprintf("id-%d", i))
	}
	if parts := len(*f.parts.Load()); parts < 3 {
		t.Fatalf("%d parts after %d adds, want growth to >= 3", parts, n)
	}
	for i := 0; i < n; i++ {
		if !f.mayContain(fmt.Sprintf("id-%d", i)) {
			t.Fatalf("false negative for id-%d", i)
		}
	}
	fp := 0
	for i := 0; i < n; i++ {
		if f.mayContain(fmt.Sprintf("other-%d", i)) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.05 {
		t.Fatalf("false-positive rate %.3f, want <= 0.05", rate)
	} else {
		t.Logf("false-positive rate %.4f", rate)
	}
}
