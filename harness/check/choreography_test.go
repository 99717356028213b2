package check_test

import (
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/reference/saga"
)

var transfer = saga.Choreography{
	Definition:  saga.Definition{Name: "transfer", Steps: []saga.Step{{Name: "debit", Compensation: "refund"}, {Name: "credit"}}},
	Done:        map[string]string{"debited": "debit", "credited": "credit"},
	Failed:      map[string]string{"credit-failed": "credit", "debit-rejected": "debit"},
	Compensated: map[string]string{"refunded": "debit"},
}

// published is a history of OK publishes on "events": key, id, type each.
func published(triples ...string) []history.Op {
	var ops []history.Op
	for i := 0; i+2 < len(triples); i += 3 {
		ops = append(ops, history.Op{Index: int64(len(ops)), Type: history.OK, F: history.Publish, Topic: "events",
			Key: triples[i], MsgID: triples[i+1], Value: triples[i+2]})
	}
	return ops
}

func TestChoreographyChecker(t *testing.T) {
	clean := published("t-1", "1", "debited", "t-1", "2", "credited",
		"t-2", "3", "debited", "t-2", "4", "credit-failed", "t-2", "5", "refunded",
		"t-3", "6", "debit-rejected", "t-1", "2", "credited") // the last: a retried publish
	for _, tc := range []struct {
		name    string
		ops     []history.Op
		settled bool
		valid   bool
		want    string
	}{
		{"clean", clean, true, true, ""},
		{"a credit before its debit", published("t-1", "1", "credited"), true, false, "saga t-1: credited 1"},
		{"a refund twice", append(clean, published("t-2", "9", "refunded")...), true, false, "saga t-2: refunded 9"},
		{"a refund that never came", published("t-4", "7", "debited", "t-4", "8", "credit-failed"), true, false, "saga t-4 never ended: compensating"},
		{"in flight before quiescence", published("t-4", "7", "debited", "t-4", "8", "credit-failed"), false, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &check.Choreography{C: transfer, Topic: "events"}
			c.SetSettled(tc.settled)
			res := c.Check(tc.ops)
			if res.Valid != tc.valid {
				t.Fatalf("valid %v, want %v: %+v", res.Valid, tc.valid, res.Anomalies)
			}
			if tc.want != "" && (len(res.Anomalies) == 0 || !strings.Contains(res.Anomalies[0].Summary, tc.want)) {
				t.Errorf("anomalies %+v, want one saying %q", res.Anomalies, tc.want)
			}
		})
	}
}
