// Package asyncapi reads an AsyncAPI 2.x (2.0 to 2.6) or 3.0 document — its
// channels, operations and message payload schemas — into one model that
// does not depend on the version, from the application's point of view:
// an operation the application receives is an input that edkit sends
// (Receive), one it sends is an output that edkit watches (Send).
//
//	doc, err := asyncapi.ParseFile("api.yaml")
//	for _, op := range doc.Inputs() {
//		payload, err := asyncapi.Sample(op.Messages[0], r) // validates
//	}
//	err = asyncapi.Validate(out.Messages[0], received)   // names the pointer
//
// The reader works on yaml.Node, like every file edkit reads
// (harness/yamlfile), so that each problem has a line and a column; it
// reports every problem of a document at once, each a *SpecError. It
// resolves the document's own $refs — into components, channels,
// messages and payload schemas — and refuses references to other files or
// URLs, reference cycles, and documents that would expand past a bounded
// number of nodes. Payload schemas are JSON Schema (the AsyncAPI schema
// format, draft 7, or application/schema+json of any draft), compiled with
// github.com/santhosh-tekuri/jsonschema/v6; Avro, Protobuf, RAML and
// OpenAPI schemas are refused, as are content types that are not JSON.
//
// Sample makes a payload for an input: one of the message's examples, or
// one generated from its schema, seeded so that a run replays; it never
// returns a payload the schema refuses. Validate checks a received
// payload and says where it breaks the schema.
package asyncapi
