package bustest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// GuaranteesOutEnv names the environment variable that, when set to a file
// path, makes each Run merge its backend's measurements into that markdown
// file (between the markers below), so one `go test` over every backend
// writes the whole guarantee table.
const GuaranteesOutEnv = "EDKIT_GUARANTEES_OUT"

const (
	beginMarker = "<!-- bustest:guarantees:begin (generated; do not edit) -->"
	endMarker   = "<!-- bustest:guarantees:end -->"
	dataPrefix  = "<!-- bustest:data "
)

// row is one measurement of one case.
type row struct {
	Case       string `json:"case"`
	Label      string `json:"label"`
	Scope      Scope  `json:"scope"`
	Counts     Counts `json:"counts"`
	Violations int    `json:"violations"`
}

// report is one backend's measurements over a Run.
type report struct {
	Backend  string   `json:"backend"`
	Features Features `json:"features"`
	Rows     []row    `json:"rows"`
}

type recorder struct {
	mu  sync.Mutex
	rep report
}

func (r *recorder) add(rw row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Rows = append(r.rep.Rows, rw)
}

func (r *recorder) snapshot() report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := r.rep
	rep.Rows = append([]row(nil), r.rep.Rows...)
	return rep
}

// perCase sums a report's rows by case, keeping case order.
func (rep report) perCase() (names []string, sums map[string]Counts, broken map[string]int) {
	sums, broken = map[string]Counts{}, map[string]int{}
	for _, rw := range rep.Rows {
		if _, ok := sums[rw.Case]; !ok {
			names = append(names, rw.Case)
		}
		sums[rw.Case] = sums[rw.Case].add(rw.Counts)
		broken[rw.Case] += rw.Violations
	}
	return names, sums, broken
}

// reorderedIn sums reorderings measured in scope s.
func (rep report) reorderedIn(s Scope) int {
	n := 0
	for _, rw := range rep.Rows {
		if rw.Scope == s {
			n += rw.Counts.Reordered
		}
	}
	return n
}

func (rep report) total() (c Counts, broken int) {
	for _, rw := range rep.Rows {
		c = c.add(rw.Counts)
		broken += rw.Violations
	}
	return c, broken
}

// text renders one backend's table for the verbose log.
func (rep report) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "guarantee table for %s (%s)\n", rep.Backend, rep.Features.describe())
	fmt.Fprintf(&b, "%-36s %9s %5s %5s %9s %8s %10s %7s %s\n", "case", "published", "lost", "dup", "reordered", "phantoms", "unsettled", "stalled", "verdict")
	names, sums, broken := rep.perCase()
	for _, n := range names {
		c := sums[n]
		fmt.Fprintf(&b, "%-36s %9d %5d %5d %9d %8d %10d %7d %s\n", n, c.Published, c.Lost, c.Duplicated, c.Reordered,
			c.Phantom, c.MaxUnsettled, c.Stalled, verdict(broken[n]))
	}
	c, nb := rep.total()
	fmt.Fprintf(&b, "%-36s %9d %5d %5d %9d %8d %10d %7d %s\n", "total", c.Published, c.Lost, c.Duplicated, c.Reordered,
		c.Phantom, c.MaxUnsettled, c.Stalled, verdict(nb))
	return b.String()
}

func verdict(broken int) string {
	if broken > 0 {
		return fmt.Sprintf("BROKEN (%d)", broken)
	}
	return "kept"
}

// mergeMarkdown puts rep into the markdown file at path: the generated
// region between the markers holds every backend's data (as JSON in a
// comment, so runs of different packages merge) and the tables rendered
// from it; text outside the region is kept. Concurrent test binaries (go
// test runs packages in parallel) serialise on a lock file.
func mergeMarkdown(path string, rep report, now time.Time) error {
	unlock, err := lockFile(path+".lock", 60*time.Second)
	if err != nil {
		return err
	}
	defer unlock()

	// #nosec G304 G703 -- the path comes from the test's own environment.
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	head, region, tail := splitRegion(string(old))
	reports := map[string]report{}
	for _, line := range strings.Split(region, "\n") {
		if js, ok := strings.CutPrefix(line, dataPrefix); ok {
			var r report
			if err := json.Unmarshal([]byte(strings.TrimSuffix(js, " -->")), &r); err != nil {
				return fmt.Errorf("%s: generated data: %w", path, err)
			}
			reports[r.Backend] = r
		}
	}
	reports[rep.Backend] = rep
	gen, err := renderRegion(reports, now)
	if err != nil {
		return err
	}
	if head == "" && tail == "" && len(old) == 0 {
		tail = "\n"
	}
	// #nosec G306 G703 -- a documentation file meant to be read by everyone.
	return os.WriteFile(path, []byte(head+gen+tail), 0o644)
}

// splitRegion splits s around the generated region (markers included in
// region); without one, the region goes at the end.
func splitRegion(s string) (head, region, tail string) {
	i := strings.Index(s, beginMarker)
	j := strings.Index(s, endMarker)
	if i < 0 || j < i {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return s, "", ""
	}
	return s[:i], s[i : j+len(endMarker)], s[j+len(endMarker):]
}

func renderRegion(reports map[string]report, now time.Time) (string, error) {
	names := make([]string, 0, len(reports))
	for n := range reports {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(beginMarker + "\n\n")
	fmt.Fprintf(&b, "Last merged %s.\n\n", now.UTC().Format(time.RFC3339))

	b.WriteString("### Promised and measured, per backend\n\n")
	b.WriteString("| backend | lost | duplicated (allowed) | reordered, one subscription (promised?) | reordered, across group (promised?) | reordered after requeue (promised?) | max unsettled (bound) | requeue stalls | broken promises |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, n := range names {
		r := reports[n]
		c, broken := r.total()
		f := r.Features
		bound := "none"
		if f.MaxUnsettled > 0 {
			bound = fmt.Sprint(f.MaxUnsettled)
		}
		fmt.Fprintf(&b, "| %s | %d | %d (%d) | %d (%s) | %d (%s) | %d (%s) | %d (%s) | %d | %d |\n", n, c.Lost,
			c.Duplicated, f.MaxDuplicates,
			r.reorderedIn(ScopeSubscription), yesNo(f.PerKeyOrder),
			r.reorderedIn(ScopeGroup), yesNo(f.GroupPerKeyOrder),
			r.reorderedIn(ScopeRequeue), yesNo(f.RequeueInPlace),
			c.MaxUnsettled, bound, c.Stalled, broken)
	}

	b.WriteString("\n### Per case: lost / duplicated / reordered\n\n")
	var cases []string
	seen := map[string]bool{}
	for _, n := range names {
		cn, _, _ := reports[n].perCase()
		for _, c := range cn {
			if !seen[c] {
				seen[c] = true
				cases = append(cases, c)
			}
		}
	}
	b.WriteString("| case | " + strings.Join(names, " | ") + " |\n|" + strings.Repeat(" --- |", len(names)+1) + "\n")
	for _, cs := range cases {
		b.WriteString("| " + cs + " |")
		for _, n := range names {
			_, sums, broken := reports[n].perCase()
			c, ok := sums[cs]
			switch {
			case !ok:
				b.WriteString(" – |")
			case broken[cs] > 0:
				fmt.Fprintf(&b, " **%d / %d / %d** |", c.Lost, c.Duplicated, c.Reordered)
			default:
				fmt.Fprintf(&b, " %d / %d / %d |", c.Lost, c.Duplicated, c.Reordered)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, n := range names {
		js, err := json.Marshal(reports[n])
		if err != nil {
			return "", err
		}
		b.WriteString(dataPrefix + string(js) + " -->\n")
	}
	b.WriteString(endMarker)
	return b.String(), nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// lockFile takes an exclusive lock by creating path, polling until wait
// ends; a lock older than wait is taken to be left by a killed run.
func lockFile(path string, wait time.Duration) (unlock func(), err error) {
	deadline := time.Now().Add(wait)
	for {
		// #nosec G304 G703 -- the path comes from the test's own environment.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_ = f.Close()
			return func() { _ = os.Remove(path) }, nil // #nosec G703 -- our own lock file
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// #nosec G703 -- our own lock file
		if st, serr := os.Stat(path); serr == nil && time.Since(st.ModTime()) > wait {
			_ = os.Remove(path) // #nosec G703 -- our own lock file
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: still held after %v", path, wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
