package match

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// schemaURL names the inline schema inside its compiler. Its scheme has no
// loader, and neither has any other: a $ref resolves only inside the
// schema itself or to the metaschemas the library embeds.
const schemaURL = "inline:///schema.json"

// errNotLoaded is why a $ref to another document fails: the compiler
// reads nothing, from disk or the network, since a scenario must mean the
// same on every machine and never reach out.
var errNotLoaded = errors.New("scenario schemas are inline: a $ref may point only inside the schema (#/$defs/...)")

// compileSchema converts the schema written at n and compiles it as JSON
// Schema 2020-12 (unless it names another draft in $schema), asserting
// "format": an expectation that ignores what it says cannot fail.
func compileSchema(n *yaml.Node, what string) (*jsonschema.Schema, []yamlfile.Problem) {
	data, probs := yamlfile.JSON(n, what)
	if len(probs) > 0 {
		return nil, probs
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, []yamlfile.Problem{yamlfile.Problemf(n, "%s: %v", what, err)}
	}
	s, err := jsonvalue.CompileSchema(schemaURL, doc, errNotLoaded)
	if err != nil {
		return nil, []yamlfile.Problem{yamlfile.Problemf(n, "%s: %s", what, compileMessage(err))}
	}
	return s, nil
}

// compileMessage words why a schema does not compile. When the schema
// breaks its metaschema, the library's message is a tree of every keyword
// that failed; its first leaf, with the place in the schema, says what to
// fix.
func compileMessage(err error) string {
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) {
		var ve *jsonschema.ValidationError
		if errors.As(sve.Err, &ve) {
			return "not a valid JSON Schema: " + leafMessage(ve)
		}
	}
	return showText(strings.ReplaceAll(err.Error(), "\n", "; "))
}

// leafMessage words the first leaf of a validation error tree: the
// library's message for one keyword, at the place it concerns.
func leafMessage(ve *jsonschema.ValidationError) string {
	where, msg := jsonvalue.Leaf(ve)
	return at(where) + showText(msg)
}

// validate checks doc against s and words the first leaf error: the
// library's own message, at the payload place it concerns.
func validate(s *jsonschema.Schema, doc any) error {
	if msg := unwieldy(doc, nil); msg != "" {
		return errors.New(msg)
	}
	err := s.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return errors.New(showText(err.Error()))
	}
	return errors.New(leafMessage(ve))
}

// unwieldy finds a number in doc beyond jsonvalue.TooLarge's limits, which
// the library would take far too long to check; path is where doc is.
func unwieldy(doc any, path []string) string {
	switch x := doc.(type) {
	case json.Number:
		if jsonvalue.TooLarge(string(x)) {
			return at(path) + "number " + jsonvalue.Cut(string(x), jsonvalue.MaxShown) + " is too large to validate"
		}
	case []any:
		for i, v := range x {
			if msg := unwieldy(v, append(path, fmt.Sprint(i))); msg != "" {
				return msg
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if msg := unwieldy(x[k], append(path, k)); msg != "" {
				return msg
			}
		}
	}
	return ""
}
