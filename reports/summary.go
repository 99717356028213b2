package reports

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// WriteSummary writes a short human summary of r, redacted: a verdict line,
// the run's identity, counts, a latency table, each invariant as PASS, FAIL
// or PERMITTED with its first anomaly, and each threshold. User data is
// flattened to one line per entry and control characters are replaced, so a
// hostile key cannot forge lines or move a terminal's cursor.
func WriteSummary(w io.Writer, r *Run) error {
	if r == nil {
		return ErrNilRun
	}
	r = redacted(r)
	ew := &errWriter{w: w}
	broken, missed := r.failures()
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	ew.printf("edkit run %s: %s (%d/%d invariants held, %d/%d thresholds met)\n", Clean(r.Name), verdict,
		len(r.Invariants)-broken, len(r.Invariants), len(r.Thresholds)-missed, len(r.Thresholds))
	if r.Command != "" {
		ew.printf("command:  %s\n", Clean(r.Command))
	}
	started := "-"
	if !r.StartedAt.IsZero() {
		started = r.StartedAt.UTC().Format(time.RFC3339)
	}
	ew.printf("started:  %s  duration: %s  seed: %d\n", started, fmtDur(r.Duration), r.Seed)

	if len(r.Counts) > 0 {
		ew.printf("\ncounts\n")
		rows := make([][]string, 0, len(r.Counts))
		for _, c := range r.Counts {
			rows = append(rows, []string{Clean(c.Name), strconv.FormatInt(c.Value, 10)})
		}
		writeTable(ew, rows)
	}
	if len(r.Latencies) > 0 {
		ew.printf("\nlatency\n")
		rows := [][]string{{"", "count", "min", "mean", "p50", "p90", "p99", "p99.9", "max"}}
		for _, l := range r.Latencies {
			rows = append(rows, []string{Clean(l.Name), strconv.FormatUint(l.Count, 10), fmtDur(l.Min),
				fmtDur(l.Mean), fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max)})
		}
		writeTable(ew, rows)
	}
	if len(r.Invariants) > 0 {
		ew.printf("\ninvariants\n")
		for _, inv := range r.Invariants {
			line := fmt.Sprintf("  %-9s  %s  checked %d", status(inv), Clean(inv.Invariant), inv.Checked)
			if n := len(inv.Anomalies); n > 0 {
				// Checkers list a capped number of anomalies; Found is
				// how many there were.
				n = max(n, inv.Found)
				line += fmt.Sprintf(", %s; first: %s", anomalies(n), Clean(inv.Anomalies[0].Summary))
			} else if inv.Note != "" {
				line += "; " + Clean(inv.Note)
			}
			ew.printf("%s\n", line)
		}
	}
	if len(r.Thresholds) > 0 {
		ew.printf("\nthresholds\n")
		for _, t := range r.Thresholds {
			s := "PASS"
			if !t.OK {
				s = "FAIL"
			}
			ew.printf("  %-9s  %s\n", s, Clean(t.String()))
		}
	}
	return ew.err
}

// writeTable writes rows indented by two spaces, the first column
// left-aligned and the others (numbers) right-aligned, two spaces apart.
// Widths count runes, which is right for the ASCII and "µ" it prints.
func writeTable(ew *errWriter, rows [][]string) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i == 0 {
				b.WriteString(cell + pad)
			} else {
				b.WriteString("  " + pad + cell)
			}
		}
		ew.printf("%s\n", strings.TrimRight(b.String(), " "))
	}
}

// errWriter keeps the first write error so the summary code reads straight.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }

func (e *errWriter) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// Clean flattens s to one printable line: newlines, carriage returns and
// tabs become spaces and every other control character U+FFFD, so that a
// string from a file or a broker can neither forge a line nor send a
// terminal an escape sequence. Print every such string through it.
func Clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r):
			return '\uFFFD'
		}
		return r
	}, s)
}

// fmtDur renders d with three significant figures ("3.2ms", "215µs").
func fmtDur(d time.Duration) string {
	f := float64(d)
	switch {
	case d == 0:
		return "0"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", int64(d))
	case f < 999.5*float64(time.Microsecond):
		return fmt.Sprintf("%.3gµs", f/float64(time.Microsecond))
	case f < 999.5*float64(time.Millisecond):
		return fmt.Sprintf("%.3gms", f/float64(time.Millisecond))
	case d < 100*time.Second:
		return fmt.Sprintf("%.3gs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// failures counts the broken invariants and missed thresholds.
func (r *Run) failures() (broken, missed int) {
	for _, inv := range r.Invariants {
		if !inv.Valid {
			broken++
		}
	}
	for _, t := range r.Thresholds {
		if !t.OK {
			missed++
		}
	}
	return broken, missed
}
