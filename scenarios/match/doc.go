// Package match is how scenario files say what a payload must look like.
// A scenario checks events, messages and read-model views, which are JSON
// documents, against expectations written in YAML; this package turns a
// YAML value into JSON (JSON) and an expectation into a matcher (Parse)
// whose Check names the first difference, so that a failing scenario says
// where the payload went wrong instead of only that it did.
//
// An expectation is a mapping with any of three parts:
//
//	equals: {status: confirmed, total: 12}   # the whole payload
//	where:                                  # RFC 6901 pointers into it
//	  /status: confirmed
//	  /items/0/sku: A-1
//	schema:                                 # inline JSON Schema (2020-12)
//	  type: object
//	  required: [status]
//
// Numbers compare as numbers (1, 1.0 and 1e0 are equal, and no precision
// is lost to float64), object members in any order, arrays in order.
// Payloads come from brokers the scenario does not trust, so Check never
// panics, and every payload value it prints is cut short and escaped.
// Schemas must be inline: a $ref to any other document is refused when the
// scenario is parsed, so that a scenario never reaches the network.
package match
