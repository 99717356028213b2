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

	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// schemaURL names the inline schema inside its compiler. Its scheme has no
// loader, and neither has any other: a $ref resolves only inside the
// schema itself or to the metaschemas the library embeds.
const schemaURL = "inline:///schema.json"

// errNotLoaded is why a $ref to another document fails.
var errNotLoaded = errors.New("scenario schemas are inline: a $ref may point only inside the schema (#/$defs/...)")

// refuseLoader is the compiler's only loader. Without it the library
// would read file URLs from disk, and a caller could plug in HTTP; a
// scenario must mean the same on every machine and never reach out.
type refuseLoader struct{}

func (refuseLoader) Load(string) (any, error) { return nil, errNotLoaded }

// compileSchema converts the schema written at n and compiles it as JSON
// Schema 2020-12 (unless it names another draft in $schema), asserting
// "format": an expectation that ignores what it says cannot fail.
func compileSchema(n *yaml.Node, what string) (*jsonschema.Schema, []yamlfile.Problem) {
	data, probs := JSON(n, what)
	if len(probs) > 0 {
		return nil, probs
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, []yamlfile.Problem{problem(n, "%s: %v", what, err)}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, []yamlfile.Problem{problem(n, "%s: %v", what, err)}
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, []yamlfile.Problem{problem(n, "%s: %s", what, compileMessage(err))}
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
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	msg := "validation failed"
	if out := ve.BasicOutput(); out.Error != nil {
		msg = out.Error.String()
	}
	return at(ve.InstanceLocation) + showText(msg)
}

// Limits on a number that a schema validates. The library checks numbers
// with big.Rat, which computes 10^N for an exponent N: "1e999999" takes it
// about 60ms, so a payload of a few kilobytes could stall a run for
// minutes. No producer writes numbers near these limits; float64 ends at
// 1e308.
const (
	maxExponent = 1000
	maxDigits   = 10000
)

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

// unwieldy finds a number in doc beyond the limits above; path is where doc
// is.
func unwieldy(doc any, path []string) string {
	switch x := doc.(type) {
	case json.Number:
		if tooBig(string(x)) {
			return at(path) + "number " + cut(string(x), maxShown) + " is too large to validate"
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

// tooBig reports a number with more than maxDigits digits or an exponent
// written beyond ±maxExponent.
func tooBig(s string) bool {
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
	}
	if len(mant) > maxDigits+2 {
		return true
	}
	exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
	return len(exp) > 4 || (len(exp) == 4 && exp > "1000")
}
