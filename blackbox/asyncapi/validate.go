package asyncapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// Validate checks payload, as received, against m's schema. A payload that
// is not JSON or breaks the schema is a *PayloadError (errors.Is
// ErrInvalidPayload) naming the first place it breaks, as a JSON pointer.
func Validate(m Message, payload []byte) error {
	if m.Schema == nil {
		return fmt.Errorf("asyncapi: message %s has no compiled schema (read it with Parse)", m.Name)
	}
	doc, where, err := decode(payload)
	if err != nil {
		return &PayloadError{Message: m.Name, Pointer: jsonvalue.Pointer(where...), Reason: oneLine(err.Error())}
	}
	err = m.Schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &PayloadError{Message: m.Name, Reason: oneLine(err.Error())}
	}
	where, msg := jsonvalue.Leaf(ve)
	return &PayloadError{Message: m.Name, Pointer: jsonvalue.Pointer(where...), Reason: oneLine(msg)}
}

// unwieldy finds a number in doc beyond jsonvalue.TooLarge's limits, which
// the library would take far too long to check; path is where doc is.
func unwieldy(doc any, path []string) ([]string, string) {
	switch x := doc.(type) {
	case json.Number:
		if jsonvalue.TooLarge(string(x)) {
			return path, "number " + jsonvalue.Cut(string(x), jsonvalue.MaxShown) + " is too large to check"
		}
	case []any:
		for i, v := range x {
			if at, msg := unwieldy(v, append(path, fmt.Sprint(i))); msg != "" {
				return at, msg
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if at, msg := unwieldy(x[k], append(path, k)); msg != "" {
				return at, msg
			}
		}
	}
	return nil, ""
}
