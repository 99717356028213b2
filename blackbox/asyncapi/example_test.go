package asyncapi_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/edkit-dev/edkit/blackbox/asyncapi"
)

// Read a document, make an input for each message the application
// receives, and check an output it sent.
func Example() {
	doc, err := asyncapi.ParseFile("testdata/accounts-3.0.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, op := range doc.Inputs() {
		for _, m := range op.Messages[1:] { // Credit and Debit: generated
			payload, err := asyncapi.Sample(m, r)
			fmt.Printf("send %s on %s: %s %v\n", m.Name, op.Channel, payload, err)
		}
	}
	out := doc.Outputs()[0]
	err = asyncapi.Validate(out.Messages[0], []byte(`{"eventId":"5f0c7f4e-3a59-4d5e-9a43-2b8e1c6d7a10",`+
		`"accountId":"0b6e2f8a-91c4-4f0e-8d2a-6c1e9b7d3f55","type":"AccountOpened","version":0,"at":"2026-01-01T00:00:00Z"}`))
	fmt.Printf("watch %s: %v\n", out.Channel, err)
	// Output:
	// send Credit on bank.commands: {"accountId":"3bf98798-cae9-4950-8a8c-6d7f8d485abc","amount":501,"commandId":"9dcec3ad-077d-4c6c-88d0-4605312f8088","rate":1.328,"reference":"ORD-42"} <nil>
	// send Debit on bank.commands: {"accountId":"bb17008f-5fca-48e7-8232-bd645f29ed22","amount":74,"commandId":"1f173e96-63be-4e9d-a576-51da3ac4115e","reason":"withdrawal"} <nil>
	// watch bank.events: message AccountEvent: payload at /version: minimum: got 0, want 1
}
