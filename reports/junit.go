package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/edkit-dev/edkit/harness/check"
)

// JUnit classnames group test cases in CI views.
const (
	ClassInvariants = "invariants"
	ClassThresholds = "thresholds"
)

type junitSuite struct {
	XMLName    xml.Name        `xml:"testsuite"`
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes r, redacted, as JUnit XML: one <testsuite name="edkit">
// with one <testcase> per invariant (classname "invariants") and per
// threshold (classname "thresholds"). A broken invariant's <failure> lists
// every anomaly with its witness ops; permitted anomalies go to
// <system-out> of a passing case. encoding/xml escapes all user data; it
// also writes newlines inside text as "&#xA;", which every JUnit consumer
// decodes back to line breaks.
func WriteJUnit(w io.Writer, r *Run) error {
	if r == nil {
		return ErrNilRun
	}
	r = redacted(r)
	s := junitSuite{Name: "edkit", Time: seconds(r.Duration)}
	if !r.StartedAt.IsZero() {
		s.Timestamp = r.StartedAt.UTC().Format(time.RFC3339)
	}
	s.Properties = append(s.Properties,
		junitProperty{"run", r.Name}, junitProperty{"command", r.Command},
		junitProperty{"seed", strconv.FormatInt(r.Seed, 10)})
	for _, kv := range r.Config {
		s.Properties = append(s.Properties, junitProperty{"config." + kv.Key, kv.Value})
	}
	for _, inv := range r.Invariants {
		c := junitCase{Name: inv.Invariant, Classname: ClassInvariants, Time: "0"}
		switch status(inv) {
		case "FAIL":
			c.Failure = &junitFailure{Message: failureMessage(inv), Type: "anomaly", Text: anomalyText(inv)}
			s.Failures++
		case "PERMITTED":
			c.SystemOut = "permitted by the guarantee profile:\n" + anomalyText(inv)
		default:
			if inv.Note != "" {
				c.SystemOut = inv.Note
			}
		}
		s.Cases = append(s.Cases, c)
	}
	for _, t := range r.Thresholds {
		c := junitCase{Name: t.Name, Classname: ClassThresholds, Time: "0"}
		if !t.OK {
			c.Failure = &junitFailure{Message: "threshold missed: " + t.String(), Type: "threshold", Text: t.String()}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	s.Tests = len(s.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("reports: junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// found is how many anomalies a result reports, listed or not.
func found(inv check.Result) int {
	return max(inv.Found, len(inv.Anomalies))
}

func failureMessage(inv check.Result) string {
	n := found(inv)
	switch len(inv.Anomalies) {
	case 0:
		if inv.Note != "" {
			return inv.Note
		}
		return "invariant broken"
	case 1:
		if n == 1 {
			return inv.Anomalies[0].Summary
		}
		fallthrough
	default:
		return fmt.Sprintf("%s; first: %s", anomalies(n), inv.Anomalies[0].Summary)
	}
}

// anomalyText lists each anomaly with where it happened and its witness ops,
// one op per line as history.Op.String renders them.
func anomalyText(inv check.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s in %d checked\n", inv.Invariant, anomalies(found(inv)), inv.Checked)
	if inv.Note != "" {
		fmt.Fprintf(&b, "note: %s\n", inv.Note)
	}
	for i, a := range inv.Anomalies {
		fmt.Fprintf(&b, "%d. %s (at %s)\n", i+1, a.Summary, a.At)
		for _, op := range a.Witness {
			fmt.Fprintf(&b, "   %s\n", op.String())
		}
	}
	return b.String()
}

// anomalies counts anomalies in words: "1 anomaly", "3 anomalies".
func anomalies(n int) string {
	if n == 1 {
		return "1 anomaly"
	}
	return strconv.Itoa(n) + " anomalies"
}
