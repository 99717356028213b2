package match_test

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/scenarios/match"
)

func Example() {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(`
where:
  /status: confirmed
  /items/0/qty: 2
schema:
  type: object
  required: [status, items]
`), &doc); err != nil {
		fmt.Println(err)
		return
	}
	m, probs := match.Parse(doc.Content[0], "expect")
	for _, p := range probs {
		fmt.Printf("%d:%d: %s\n", p.Node.Line, p.Node.Column, p.Msg)
	}
	fmt.Println(m)
	fmt.Println(m.Check([]byte(`{"status": "confirmed", "items": [{"sku": "A", "qty": 2.0}]}`)))
	fmt.Println(m.Check([]byte(`{"status": "cancelled", "items": [{"sku": "A", "qty": 2}]}`)))
	fmt.Println(m.Check([]byte(`{"status": "confirmed", "items": []}`)))
	// Output:
	// where /status = "confirmed", /items/0/qty = 2; schema
	// <nil>
	// where: at /status: got "cancelled", want "confirmed"
	// where /items/0/qty: does not resolve: the value at /items has no element "0" (length 0)
}
