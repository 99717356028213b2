package blackbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/edkit-dev/edkit/blackbox/asyncapi"
	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// rendered is one input message, before edkit stamps its ID and the
// correlation header.
type rendered struct {
	key     string
	payload []byte
	headers map[string]string
	// corr is the correlation value found in the payload (pointer
	// correlation); "" under header correlation, where edkit makes one.
	corr string
}

// render renders in's templates for v, validates the payload against the
// input's schema and finds its correlation value.
func (in *Input) render(v *Vars, c Correlation) (rendered, error) {
	var r rendered
	key, err := render(in.Key, v)
	if err != nil {
		return r, fmt.Errorf("key: %w", err)
	}
	r.key = string(key)
	if in.Message != nil {
		if r.payload, err = asyncapi.Sample(*in.Message, v.rng); err != nil {
			return r, err
		}
	} else if r.payload, err = render(in.Payload, v); err != nil {
		return r, fmt.Errorf("payload: %w", err)
	}
	if len(in.Headers) > 0 {
		r.headers = make(map[string]string, len(in.Headers))
		for name, t := range in.Headers {
			h, err := render(t, v)
			if err != nil {
				return r, fmt.Errorf("header %s: %w", name, err)
			}
			r.headers[name] = string(h)
		}
	}
	if in.Schema != nil {
		if err := validate(in.Schema, r.payload); err != nil {
			return r, fmt.Errorf("payload %s breaks the input's schema: %w", jsonvalue.Cut(string(r.payload), 200), err)
		}
	}
	if c.Input != "" {
		if r.corr, err = pointerValue(r.payload, c.Input); err != nil {
			return r, fmt.Errorf("correlation %s: %w", c.Input, err)
		}
	}
	return r, nil
}

func validate(s *jsonschema.Schema, payload []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			at, msg := jsonvalue.Leaf(ve)
			return fmt.Errorf("at %s: %s", jsonvalue.Pointer(at...), msg)
		}
		return err
	}
	return nil
}

// maxCorrelation bounds a correlation value: it is a map key for as long
// as its input waits.
const maxCorrelation = 256

// pointerValue is the string or number at pointer in a JSON payload.
func pointerValue(payload []byte, pointer string) (string, error) {
	tokens, err := jsonvalue.ParsePointer(pointer)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return "", fmt.Errorf("payload is not JSON: %w", err)
	}
	for _, t := range tokens {
		switch x := doc.(type) {
		case map[string]any:
			v, ok := x[t]
			if !ok {
				return "", fmt.Errorf("no member %q", t)
			}
			doc = v
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return "", fmt.Errorf("no element %q", t)
			}
			doc = x[i]
		default:
			return "", fmt.Errorf("%q goes into a %s", t, jsonvalue.Kind(doc))
		}
	}
	var s string
	switch x := doc.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	default:
		return "", fmt.Errorf("want a string or a number, found %s", jsonvalue.Kind(doc))
	}
	if s == "" || len(s) > maxCorrelation {
		return "", fmt.Errorf("want 1 to %d characters, found %d", maxCorrelation, len(s))
	}
	return s, nil
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
