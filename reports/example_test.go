package reports_test

import (
	"os"
	"time"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/reports"
)

func ExampleWriteSummary() {
	run := &reports.Run{
		Name:       "smoke",
		Duration:   2 * time.Second,
		Seed:       7,
		Config:     []reports.KV{{Key: "broker", Value: "amqp://guest:guest@localhost:5672/"}},
		Counts:     []reports.Count{{Name: "sent", Value: 400}},
		Invariants: []check.Result{{Invariant: check.InvNoLoss, Valid: true, Checked: 400}},
		Thresholds: []reports.Threshold{reports.AtMost("p99 send latency", 1.5, 5, "ms")},
	}
	_ = reports.WriteSummary(os.Stdout, run)
	// Output:
	// edkit run smoke: PASS (1/1 invariants held, 1/1 thresholds met)
	// started:  -  duration: 2s  seed: 7
	//
	// counts
	//   sent  400
	//
	// invariants
	//   PASS       no-acknowledged-loss  checked 400
	//
	// thresholds
	//   PASS       p99 send latency: 1.5 ms <= 5 ms
}
