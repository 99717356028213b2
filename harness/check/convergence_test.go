package check

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// convSummary is the projection's value per order in these tests.
type convSummary struct {
	Status string
	Items  []string
}

func TestConvergence(t *testing.T) {
	fold := map[string]convSummary{
		"order-1": {Status: "paid", Items: []string{"a"}},
		"order-2": {Status: "shipped", Items: []string{"b", "c"}},
	}
	with := func(edit func(m map[string]convSummary)) map[string]convSummary {
		m := map[string]convSummary{}
		for k, v := range fold {
			m[k] = convSummary{Status: v.Status, Items: append([]string(nil), v.Items...)}
		}
		edit(m)
		return m
	}
	cases := []struct {
		name      string
		readModel map[string]convSummary
		fold      map[string]convSummary
		// want lists a substring of each anomaly's summary, in order.
		want []string
	}{
		{name: "clean: equal (deeply, not by identity)", readModel: with(func(map[string]convSummary) {}), fold: fold},
		{name: "clean: both empty", readModel: nil, fold: map[string]convSummary{}},
		{name: "missing key", readModel: with(func(m map[string]convSummary) { delete(m, "order-2") }), fold: fold,
			want: []string{`key "order-2" is missing from the read model; the fold of the store has {shipped [b c]}`}},
		{name: "extra key", readModel: with(func(m map[string]convSummary) { m["order-9"] = convSummary{Status: "placed"} }), fold: fold,
			want: []string{`key "order-9" is in the read model as {placed []} but not in the fold of the store`}},
		{name: "different value", readModel: with(func(m map[string]convSummary) { m["order-1"] = convSummary{Status: "paid", Items: []string{"a", "a"}} }), fold: fold,
			want: []string{`key "order-1": the read model has {paid [a a]}, the fold of the store has {paid [a]}`}},
		{name: "several, in key order", fold: fold, readModel: with(func(m map[string]convSummary) {
			delete(m, "order-2")
			m["order-0"] = convSummary{}
			m["order-1"] = convSummary{Status: "placed"}
		}), want: []string{`"order-0" is in the read model`, `"order-1": the read model has {placed []}`, `"order-2" is missing`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Convergence("", tc.readModel, tc.fold, nil)
			if r.Invariant != InvProjectionConvergence {
				t.Errorf("Invariant = %q, want %q", r.Invariant, InvProjectionConvergence)
			}
			if want := len(tc.want) == 0; r.Valid != want {
				t.Errorf("Valid = %v, want %v", r.Valid, want)
			}
			if r.Checked != len(convUnion(tc.readModel, tc.fold)) {
				t.Errorf("Checked = %d, want the %d keys of both maps", r.Checked, len(convUnion(tc.readModel, tc.fold)))
			}
			if len(r.Anomalies) != len(tc.want) || r.Found != len(tc.want) {
				t.Fatalf("%d anomalies listed, %d found, want %d: %+v", len(r.Anomalies), r.Found, len(tc.want), r.Anomalies)
			}
			for i, a := range r.Anomalies {
				if !strings.Contains(a.Summary, tc.want[i]) {
					t.Errorf("anomaly %d: %q does not contain %q", i, a.Summary, tc.want[i])
				}
				if a.Invariant != InvProjectionConvergence {
					t.Errorf("anomaly %d invariant = %q", i, a.Invariant)
				}
			}
		})
	}
}

func convUnion[V any](a, b map[string]V) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

// A custom equality judges what the projection promises: balances within a
// cent, not bit for bit.
func TestConvergenceCustomEqual(t *testing.T) {
	fold := map[string]float64{"acct-1": 10.10, "acct-2": 0.3}
	readModel := map[string]float64{"acct-1": 10.1000001, "acct-2": 0.1 + 0.2}
	cent := func(a, b float64) bool { return math.Abs(a-b) < 0.005 }
	if r := Convergence("balances", readModel, fold, cent); !r.Valid || r.Invariant != "balances" || r.Checked != 2 {
		t.Fatalf("within a cent: %+v", r)
	}
	if r := Convergence("balances", readModel, fold, nil); r.Valid {
		t.Fatalf("DeepEqual on floats found no difference: %+v", r)
	}
	readModel["acct-2"] = 0.31
	r := Convergence("balances", readModel, fold, cent)
	if r.Valid || len(r.Anomalies) != 1 || r.Anomalies[0].Invariant != "balances" ||
		!strings.Contains(r.Anomalies[0].Summary, `key "acct-2": the read model has 0.31, the fold of the store has 0.3`) {
		t.Fatalf("a cent off: %+v", r)
	}
}

// Listing stops at DefaultMaxAnomalies, the earliest keys first; Found and
// the note count every diverging key.
func TestConvergenceCap(t *testing.T) {
	fold, readModel := map[string]int{}, map[string]int{}
	for i := range 30 {
		fold[fmt.Sprintf("k%02d", i)] = i
		readModel[fmt.Sprintf("k%02d", i)] = i
	}
	for i := range 25 {
		readModel[fmt.Sprintf("k%02d", i)] = -1
	}
	readModel["zz"] = 1
	r := Convergence("", readModel, fold, nil)
	if r.Valid || r.Found != 26 || len(r.Anomalies) != DefaultMaxAnomalies || r.Checked != 31 {
		t.Fatalf("Found=%d listed=%d Checked=%d, want 26, %d, 31", r.Found, len(r.Anomalies), r.Checked, DefaultMaxAnomalies)
	}
	if !strings.Contains(r.Anomalies[0].Summary, `"k00"`) || !strings.Contains(r.Anomalies[19].Summary, `"k19"`) {
		t.Fatalf("not in key order: first %q, last %q", r.Anomalies[0].Summary, r.Anomalies[19].Summary)
	}
	if want := "26 of 31 keys diverge: 0 missing, 1 extra, 25 different (6 not listed)"; r.Note != want {
		t.Fatalf("Note = %q, want %q", r.Note, want)
	}
}

// Summaries stay one short line whatever the values hold.
func TestConvergenceSummaryIsCompact(t *testing.T) {
	long := strings.Repeat("x", 5000)
	r := Convergence("", map[string]string{"k\n1": "a\nb\x00c\xff", "k2": long}, map[string]string{"k\n1": "ok", "k2": "short"}, nil)
	if len(r.Anomalies) != 2 {
		t.Fatalf("anomalies: %+v", r.Anomalies)
	}
	first := r.Anomalies[0].Summary
	if strings.ContainsAny(first, "\n\x00") || !strings.Contains(first, `key "k\n1": the read model has a\nb\x00c\xff,`) {
		t.Errorf("control characters not escaped: %q", first)
	}
	second := r.Anomalies[1].Summary
	if len(second) > 2*maxSummaryValue+100 || !strings.Contains(second, strings.Repeat("x", maxSummaryValue)+"…") {
		t.Errorf("long value not cut (%d bytes): %.300q", len(second), second)
	}
}
