package reports_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/reports"
)

// TestCappedAnomaliesReportTheirTotal: a checker lists 2 of 1520 anomalies;
// the summary and the JUnit failure must say 1520, not 2.
func TestCappedAnomaliesReportTheirTotal(t *testing.T) {
	r := &reports.Run{Name: "capped", Invariants: []check.Result{{
		Invariant: check.InvNoDupEffect, Checked: 4000, Found: 1520,
		Anomalies: []check.Anomaly{{Summary: "effect ran twice: m-1"}, {Summary: "effect ran twice: m-2"}},
	}}}
	var sum, junit bytes.Buffer
	if err := reports.WriteSummary(&sum, r); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteJUnit(&junit, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"summary": sum.String(), "junit": junit.String()} {
		if !strings.Contains(out, "1520 anomalies") {
			t.Errorf("%s does not report the total:\n%s", name, out)
		}
	}
}
