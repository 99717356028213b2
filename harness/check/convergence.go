package check

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// InvProjectionConvergence is invariant 13: after quiescence the read model
// equals a fold of the store.
const InvProjectionConvergence = "projection-convergence"

// maxSummaryValue bounds a value as printed in a summary, so that one large
// document does not swamp a report.
const maxSummaryValue = 200

// Convergence checks a final state rather than a history: once the system
// is quiet, readModel (what the projection holds, key by key) must equal
// fold (the same keys computed afresh from the store's events). Each key
// missing from the read model, extra in it, or holding a different value is
// one anomaly, in key order; the first DefaultMaxAnomalies are listed and
// all are counted. Anomalies carry no witness ops: the two values in the
// summary are the proof. equal compares values (nil: reflect.DeepEqual);
// name is the invariant reported (InvProjectionConvergence if empty), so
// that a system with several read models can tell them apart.
func Convergence[V any](name string, readModel, fold map[string]V, equal func(a, b V) bool) Result {
	if name == "" {
		name = InvProjectionConvergence
	}
	if equal == nil {
		equal = func(a, b V) bool { return reflect.DeepEqual(a, b) }
	}
	keys := make([]string, 0, len(fold))
	for k := range fold {
		keys = append(keys, k)
	}
	for k := range readModel {
		if _, ok := fold[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)

	var missing, extra, different int
	res := Result{Invariant: name, Checked: len(keys)}
	for _, k := range keys {
		got, inModel := readModel[k]
		want, inFold := fold[k]
		var summary string
		switch {
		case !inModel:
			missing++
			summary = fmt.Sprintf("key \"%s\" is missing from the read model; the fold of the store has %s", summaryString(k), summaryValue(want))
		case !inFold:
			extra++
			summary = fmt.Sprintf("key \"%s\" is in the read model as %s but not in the fold of the store", summaryString(k), summaryValue(got))
		case !equal(got, want):
			different++
			summary = fmt.Sprintf("key \"%s\": the read model has %s, the fold of the store has %s", summaryString(k), summaryValue(got), summaryValue(want))
		default:
			continue
		}
		if len(res.Anomalies) < DefaultMaxAnomalies {
			res.Anomalies = append(res.Anomalies, Anomaly{Invariant: name, Summary: summary})
		}
	}
	res.Found = missing + extra + different
	res.Valid = res.Found == 0
	if res.Found > 0 {
		res.Note = fmt.Sprintf("%d of %d keys diverge: %d missing, %d extra, %d different",
			res.Found, len(keys), missing, extra, different)
		if n := res.Found - len(res.Anomalies); n > 0 {
			res.Note += fmt.Sprintf(" (%d not listed)", n)
		}
	}
	return res
}

func summaryValue[V any](v V) string { return summaryString(fmt.Sprintf("%v", v)) }

// summaryString prints s on one line, short: control characters and invalid
// UTF-8 are escaped (a value holding a newline must not break a report
// line) and anything past maxSummaryValue is cut, marked with "…".
func summaryString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if b.Len() >= maxSummaryValue {
			b.WriteString("…")
			break
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
