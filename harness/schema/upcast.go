package schema

import (
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// Validate checks one JSON document against the schema. The error words
// the first failure: the place in the document and the library's message.
func (s *Schema) Validate(doc []byte) error {
	if s == nil || s.compiled == nil {
		return errors.New("schema: no schema (use Load or Parse)")
	}
	v, err := parseJSON(doc)
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.compiled.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return errors.New(clean(err.Error()))
		}
		where, msg := jsonvalue.Leaf(ve)
		return fmt.Errorf("at %s: %s", ShowPointer(jsonvalue.Pointer(where...)), clean(msg))
	}
	return nil
}

// CheckUpcast checks an upcaster against the schemas it converts between:
// each sample must validate against older, and what up returns for it
// against newer. It returns nil when every sample passes, else one
// *UpcastError per failing sample (joined), naming the sample's index and
// the failure. Samples are JSON documents; an upcaster that returns
// something else fails its sample.
func CheckUpcast(older, newer *Schema, samples [][]byte, up func([]byte) ([]byte, error)) error {
	if older == nil || newer == nil || up == nil {
		return errors.New("schema: CheckUpcast needs both schemas and an upcaster")
	}
	var errs []error
	for i, sample := range samples {
		if err := older.Validate(sample); err != nil {
			errs = append(errs, &UpcastError{Index: i, Stage: StageOld, Err: err})
			continue
		}
		out, err := callUp(up, sample)
		if err != nil {
			errs = append(errs, &UpcastError{Index: i, Stage: StageUpcast, Err: err})
			continue
		}
		if err := newer.Validate(out); err != nil {
			errs = append(errs, &UpcastError{Index: i, Stage: StageNew, Err: err})
		}
	}
	return errors.Join(errs...)
}

// callUp runs the upcaster on a copy of the sample, so an upcaster that
// writes into its input cannot change the next check, and turns a panic
// into the sample's failure.
func callUp(up func([]byte) ([]byte, error), sample []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("panic: %s", strings.ReplaceAll(fmt.Sprint(r), "\n", " "))
		}
	}()
	return up(append([]byte(nil), sample...))
}
