package jsonvalue

import "github.com/santhosh-tekuri/jsonschema/v6"

// CompileSchema compiles doc, a decoded JSON Schema document, as JSON
// Schema 2020-12 unless its $schema names another draft, asserting
// "format": a check that ignores what a schema says cannot fail.
//
// The compiler knows doc as url, and its only loader refuses every other
// document: a $ref resolves only inside doc or to the metaschemas the
// library embeds, and one to any other document fails with a
// *jsonschema.LoadURLError whose Err is refused. Without that loader the
// library would read file URLs from disk, and a caller could plug in
// HTTP. Give url a scheme that nothing serves ("inline:///schema.json"):
// it appears in the library's messages, for the caller to keep or remove.
// A url the library cannot take (unparsable, or a metaschema's) is the
// library's error.
func CompileSchema(url string, doc any, refused error) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(refuseLoader{refused})
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// refuseLoader is the compiler's only loader.
type refuseLoader struct{ err error }

func (l refuseLoader) Load(string) (any, error) { return nil, l.err }

// Leaf finds the first leaf of a validation error tree — the failure of one
// keyword — and returns the place it concerns (the tokens of its instance
// location) and the library's message for it ("validation failed" when
// the library has none). The whole tree names every keyword that failed;
// its first leaf says what to fix.
func Leaf(ve *jsonschema.ValidationError) ([]string, string) {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	msg := "validation failed"
	if out := ve.BasicOutput(); out.Error != nil {
		msg = out.Error.String()
	}
	return ve.InstanceLocation, msg
}
