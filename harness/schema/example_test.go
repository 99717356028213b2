package schema_test

import (
	"fmt"

	"github.com/edkit-dev/edkit/harness/schema"
)

func ExampleCompatible() {
	v1, _ := schema.Parse("order.v1.json", []byte(`{
		"type": "object",
		"additionalProperties": false,
		"properties": {"id": {"type": "string"}, "amount": {"type": "integer"}},
		"required": ["id"]}`))
	v2, _ := schema.Parse("order.v2.yaml", []byte(`
type: object
additionalProperties: false
properties:
  id: {type: string}
  amount: {type: number}
  currency: {type: string}
required: [id, currency]
`))
	r := schema.Compatible(v1, v2, schema.Backward)
	fmt.Println("compatible:", r.Compatible())
	for _, d := range r.Differences {
		fmt.Println(d.Compatible, d.Kind, schema.ShowPointer(d.Pointer))
	}
	// Output:
	// compatible: false
	// true TYPE_EXTENDED #/properties/amount/type
	// false REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/currency
}
