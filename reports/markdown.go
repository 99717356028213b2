package reports

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// MarkdownFile is the name of the Markdown summary WriteDir writes.
const MarkdownFile = "report.md"

// maxMarkdownAnomalies is how many anomalies per invariant the Markdown
// lists: a pull-request comment is read, not searched.
const maxMarkdownAnomalies = 3

// WriteMarkdown writes r as GitHub-flavoured Markdown for CI job summaries
// and pull-request comments: the verdict first, then what broke, the
// thresholds, latencies, counts, faults and configuration. Every string
// from the run — names, commands, summaries, witnesses — is redacted and
// escaped, so a message payload or a system's name can neither inject
// markup (links, images, HTML) nor break a table.
func WriteMarkdown(w io.Writer, r *Run) error {
	if r == nil {
		return ErrNilRun
	}
	r = redacted(r)
	ew := &errWriter{w: w}
	mdHeader(ew, r)
	mdInvariants(ew, r)
	mdThresholds(ew, r)
	mdLatencies(ew, r)
	mdCounts(ew, r)
	mdFaults(ew, r)
	mdConfig(ew, r)
	return ew.err
}

func mdHeader(ew *errWriter, r *Run) {
	broken, missed := r.failures()
	verdict := "✅ PASS"
	if !r.OK() {
		verdict = "❌ FAIL"
	}
	ew.printf("## %s — edkit run %s\n\n", verdict, md(r.Name))
	ew.printf("**%d/%d invariants held, %d/%d thresholds met** · started %s · %s · seed %d\n\n",
		len(r.Invariants)-broken, len(r.Invariants), len(r.Thresholds)-missed, len(r.Thresholds),
		r.StartedAt.UTC().Format(time.RFC3339), fmtDur(r.Duration), r.Seed)
	if r.Command != "" {
		ew.printf("%s\n\n", mdCode(r.Command))
	}
}

func mdInvariants(ew *errWriter, r *Run) {
	if len(r.Invariants) == 0 {
		return
	}
	ew.printf("### Invariants\n\n| invariant | verdict | checked | anomalies | note |\n|---|---|---:|---:|---|\n")
	for _, inv := range r.Invariants {
		v := "✅ held"
		switch {
		case !inv.Valid:
			v = "❌ broken"
		case inv.Permitted:
			v = "⚠️ permitted"
		}
		found := max(inv.Found, len(inv.Anomalies))
		ew.printf("| %s | %s | %d | %d | %s |\n", md(inv.Invariant), v, inv.Checked, found, md(inv.Note))
	}
	ew.printf("\n")
	for _, inv := range r.Invariants {
		if inv.Valid || len(inv.Anomalies) == 0 {
			continue
		}
		ew.printf("<details><summary>%s: first anomalies</summary>\n\n", md(inv.Invariant))
		for _, a := range inv.Anomalies[:min(len(inv.Anomalies), maxMarkdownAnomalies)] {
			ew.printf("- at %s: %s\n", fmtDur(a.At), md(a.Summary))
			if len(a.Witness) > 0 {
				ew.printf("\n  ```\n")
				for _, op := range a.Witness {
					ew.printf("  %s\n", fence(op.String()))
				}
				ew.printf("  ```\n")
			}
		}
		ew.printf("\n</details>\n\n")
	}
}

func mdThresholds(ew *errWriter, r *Run) {
	if len(r.Thresholds) == 0 {
		return
	}
	ew.printf("### Thresholds\n\n| threshold | verdict |\n|---|---|\n")
	for _, t := range r.Thresholds {
		v := "✅"
		if !t.OK {
			v = "❌"
		}
		ew.printf("| %s | %s |\n", md(t.String()), v)
	}
	ew.printf("\n")
}

func mdLatencies(ew *errWriter, r *Run) {
	if len(r.Latencies) == 0 {
		return
	}
	ew.printf("### Latency\n\n| | count | p50 | p90 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range r.Latencies {
		ew.printf("| %s | %d | %s | %s | %s | %s | %s |\n", md(l.Name), l.Count, fmtDur(l.P50), fmtDur(l.P90),
			fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max))
	}
	ew.printf("\n")
}

func mdCounts(ew *errWriter, r *Run) {
	if len(r.Counts) == 0 {
		return
	}
	ew.printf("<details><summary>Counts</summary>\n\n| | |\n|---|---:|\n")
	for _, c := range r.Counts {
		ew.printf("| %s | %d |\n", md(c.Name), c.Value)
	}
	ew.printf("\n</details>\n\n")
}

func mdFaults(ew *errWriter, r *Run) {
	if len(r.Faults) == 0 {
		return
	}
	ew.printf("### Faults\n\n| fault | injected | healed | error |\n|---|---:|---:|---|\n")
	for _, f := range r.Faults {
		ew.printf("| %s | %s | %s | %s |\n", md(f.Fault), fmtDur(f.Start), fmtDur(f.End), md(f.Error))
	}
	ew.printf("\n")
}

func mdConfig(ew *errWriter, r *Run) {
	if len(r.Config) == 0 {
		return
	}
	ew.printf("<details><summary>Configuration</summary>\n\n| setting | value |\n|---|---|\n")
	for _, kv := range r.Config {
		ew.printf("| %s | %s |\n", md(kv.Key), md(kv.Value))
	}
	ew.printf("\n</details>\n")
}

// mdSpecial are the characters Markdown could read as markup anywhere in
// a line (emphasis, code, links, tables, strikethrough); what is markup only
// at a line's start (#, -, +, 1.) cannot be there, where md's text goes.
const mdSpecial = "\\`*_[]|~"

// md makes s plain text in Markdown: control characters and newlines
// flattened (Clean), every punctuation character Markdown or HTML could
// read as markup escaped — a backslash for ASCII punctuation, which GFM
// honours everywhere a table cell can hold, entities for < > & ".
func md(s string) string {
	s = Clean(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r == '"':
			b.WriteString("&quot;")
		case strings.ContainsRune(mdSpecial, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode is s as inline code, with a fence longer than any backtick run in
// it, so nothing in s can end it.
func mdCode(s string) string {
	s = Clean(s)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", longest+1)
	return fmt.Sprintf("%s %s %s", f, s, f)
}

// fence makes a line safe inside a ``` block: no line breaks, and no
// backtick run that could close the block.
func fence(s string) string {
	return strings.ReplaceAll(Clean(s), "`", "ˋ")
}
