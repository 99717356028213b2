package check_test

import (
	"fmt"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/history"
)

// A payment handler charges twice for one command because it was redelivered
// after a lost ack: the duplicate delivery is permitted for an at-least-once
// broker, the duplicate charge is not.
func Example() {
	ops := []history.Op{
		{Index: 0, Type: history.Invoke, F: history.Publish, Topic: "cmds", MsgID: "cmd-17"},
		{Index: 1, Type: history.OK, F: history.Publish, Topic: "cmds", MsgID: "cmd-17"},
		{Index: 2, Type: history.OK, F: history.Deliver, Group: "payments", MsgID: "cmd-17", Attempt: 1},
		{Index: 3, Type: history.OK, F: history.Effect, Group: "payments", MsgID: "cmd-17", Value: "charge"},
		{Index: 4, Type: history.OK, F: history.Ack, Group: "payments", MsgID: "cmd-17"},
		{Index: 5, Type: history.OK, F: history.Deliver, Group: "payments", MsgID: "cmd-17", Attempt: 2},
		{Index: 6, Type: history.OK, F: history.Effect, Group: "payments", MsgID: "cmd-17", Value: "charge"},
		{Index: 7, Type: history.OK, F: history.Ack, Group: "payments", MsgID: "cmd-17"},
	}
	results := check.Run(ops,
		check.NewLoss(check.LossOptions{Groups: map[string][]string{"cmds": {"payments"}}}),
		check.NewDuplicateDelivery(check.DuplicateDeliveryOptions{Permitted: true}),
		check.NewDuplicateEffect(check.DuplicateEffectOptions{}),
	)
	for _, r := range results {
		fmt.Printf("%s valid=%v permitted=%v\n", r.Invariant, r.Valid, r.Permitted)
		for _, a := range r.Anomalies {
			fmt.Printf("  %s (witness: %d ops)\n", a.Summary, len(a.Witness))
		}
	}
	fmt.Println("pass:", check.Valid(results))
	// Output:
	// no-acknowledged-loss valid=true permitted=false
	// no-duplicate-delivery valid=true permitted=true
	//   message cmd-17 was delivered to group payments 1 more time(s) after it was acked (witness: 3 ops)
	// no-duplicate-effect valid=false permitted=false
	//   effect "charge" of message cmd-17 ran 2 times in group payments (witness: 4 ops)
	// pass: false
}
