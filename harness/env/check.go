package env

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// ErrBadSpec wraps a spec refused before anything starts: an option a
// provider does not know, a value past its bound, an address it may not
// reach. It is bad input, not an environment that failed to start, so the
// CLI maps it to exit 2 (ErrStart is exit 3).
var ErrBadSpec = errors.New("env: bad spec")

// FieldError is a provider's objection to one field of a component spec.
// Field is "options.NAME", "addrs" or "url", so that an error about a spec
// file can point at the line that holds it.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// SpecChecker is an optional Provider capability: it checks a component's
// spec without starting anything, so that a bad option in the last
// component is reported before the first one has spent a minute starting.
// Its error may join several; each *FieldError among them names its field.
type SpecChecker interface {
	CheckSpec(spec ComponentSpec) error
}

// NoOptions is the spec check of a provider that takes no options: one
// silently ignored is a setting the user believes in and does not have, so
// each option given is a *FieldError naming it.
func NoOptions(spec ComponentSpec) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(spec.Options)) {
		errs = append(errs, &FieldError{Field: "options." + k, Err: fmt.Errorf("unknown option %q: the %s provider takes none", k, spec.Provider)})
	}
	return errors.Join(errs...)
}

// Check checks spec as Start does before it starts anything: the spec
// itself, that each component's provider is given, and what the providers
// that are SpecCheckers say of their components. Problems in a spec read
// by ParseSpec or LoadSpec carry its file:line:column. Every error wraps
// ErrBadSpec.
func Check(spec Spec, opts ...StartOption) error {
	cfg := startConfig{providers: map[ProviderName]Provider{}}
	for _, o := range opts {
		o(&cfg)
	}
	return check(spec, cfg)
}

func check(spec Spec, cfg startConfig) error {
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSpec, err)
	}
	var errs []error
	for i, c := range spec.withDefaults().Components {
		p, ok := cfg.providers[c.Provider]
		if !ok {
			errs = append(errs, spec.fieldErr(i, "provider", fmt.Errorf("%s: provider %q is not available here", c.Name, c.Provider)))
			continue
		}
		sc, ok := p.(SpecChecker)
		if !ok {
			continue
		}
		for _, err := range flatten(sc.CheckSpec(c)) {
			field := ""
			var fe *FieldError
			if errors.As(err, &fe) {
				field = fe.Field
			}
			errs = append(errs, spec.fieldErr(i, field, fmt.Errorf("%s: %w", c.Name, err)))
		}
	}
	return errors.Join(errs...)
}

// flatten lists the errors err joins (itself when it joins none).
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// fieldErr places err at field of component i when the spec came from a
// file: at the field's value, else at the component.
func (s Spec) fieldErr(i int, field string, err error) error {
	bad := fmt.Errorf("%w: %w", ErrBadSpec, err)
	if s.src == nil || i >= len(s.src.components) {
		return bad
	}
	at := s.src.components[i]
	if p, ok := at.fields[field]; ok {
		at.pos = p
	}
	return &SpecError{File: s.src.file, Line: at.pos.line, Column: at.pos.col, Msg: err.Error(), Err: bad}
}

// source is where a parsed spec's parts sit in its file.
type source struct {
	file       string
	components []componentSource
}

type componentSource struct {
	pos    position
	fields map[string]position // "kind", "addrs", "options.partitions", ...
}

type position struct{ line, col int }
