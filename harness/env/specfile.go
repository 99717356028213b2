package env

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// SpecError locates a problem in a spec file.
type SpecError struct {
	File         string
	Line, Column int
	Msg          string
	Err          error // what Msg says, when it wraps one
}

func (e *SpecError) Unwrap() error { return e.Err }

func (e *SpecError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// LoadSpec reads an environment spec file (YAML).
func LoadSpec(path string) (Spec, error) {
	data, err := yamlfile.ReadFile(path, 0)
	if err != nil {
		return Spec{}, &SpecError{File: path, Msg: fmt.Sprintf("cannot read spec: %v", err)}
	}
	return ParseSpec(path, data)
}

// ParseSpec parses a YAML environment spec:
//
//	components:
//	  - kind: kafka
//	    provider: embedded
//	    options: {partitions: "8"}
//	  - {kind: redis, provider: process, durable: true}
//
// Every problem names file:line:column; several are joined. It never panics.
func ParseSpec(name string, data []byte) (spec Spec, err error) {
	defer func() {
		if r := recover(); r != nil {
			spec, err = Spec{}, &SpecError{File: name, Line: 1, Column: 1, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Spec{}, &SpecError{File: name, Line: 1, Column: 1, Msg: "empty spec (expected a mapping with components)"}
		}
		return Spec{}, &SpecError{File: name, Line: 1, Column: 1, Msg: "invalid YAML: " + err.Error()}
	}
	p := specParser{file: name, src: &source{file: name}}
	spec = p.spec(&doc)
	if len(p.errs) > 0 {
		return Spec{}, errors.Join(p.errs...)
	}
	spec.src = p.src
	if err := spec.Validate(); err != nil {
		return Spec{}, &SpecError{File: name, Msg: err.Error()}
	}
	return spec, nil
}

type specParser struct {
	file string
	errs []error
	src  *source
}

func (p *specParser) fail(n *yaml.Node, format string, a ...any) {
	p.errs = append(p.errs, &SpecError{File: p.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, a...)})
}

// keys checks mapping n's keys (unknown, repeated, aliased) and returns
// the accepted fields in file order.
func (p *specParser) keys(n *yaml.Node, what string, known ...string) []yamlfile.Field {
	fields, probs := yamlfile.Keys(n, what, known)
	for _, pr := range probs {
		p.fail(pr.Node, "%s", pr.Msg)
	}
	return fields
}

func (p *specParser) spec(doc *yaml.Node) Spec {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, "expected a mapping with components")
		return Spec{}
	}
	var s Spec
	found := false
	for _, f := range p.keys(n, "spec", "components") {
		found = true
		if f.V.Kind != yaml.SequenceNode {
			p.fail(f.V, "components: expected a list")
			continue
		}
		for j, c := range f.V.Content {
			s.Components = append(s.Components, p.component(c, fmt.Sprintf("components[%d]", j)))
		}
	}
	if !found {
		p.fail(n, "missing required key components")
	}
	return s
}

func (p *specParser) component(n *yaml.Node, where string) ComponentSpec {
	var c ComponentSpec
	at := componentSource{pos: position{n.Line, n.Column}, fields: map[string]position{}}
	defer func() { p.src.components = append(p.src.components, at) }()
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s: expected a mapping with kind and provider", where)
		return c
	}
	str := func(v *yaml.Node, key string) string {
		if v.Kind != yaml.ScalarNode {
			p.fail(v, "%s.%s: expected a string", where, key)
			return ""
		}
		return v.Value
	}
	boolean := func(v *yaml.Node, key string) bool {
		b, err := strconv.ParseBool(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil {
			p.fail(v, "%s.%s: expected true or false", where, key)
		}
		return b
	}
	var hasKind, hasProvider bool
	for _, f := range p.keys(n, where, "name", "kind", "provider", "image", "addrs", "url", "durable", "proxied", "options") {
		v := f.V
		at.fields[f.Key] = position{v.Line, v.Column}
		switch f.Key {
		case "name":
			c.Name = str(v, "name")
		case "kind":
			hasKind = true
			c.Kind = Kind(str(v, "kind"))
			if c.Kind != "" && !validKind(c.Kind) {
				p.fail(v, "%s.kind: unknown kind %q (want one of %s)", where, c.Kind, kindList())
			}
		case "provider":
			hasProvider = true
			c.Provider = ProviderName(str(v, "provider"))
			switch c.Provider {
			case Embedded, Process, Container, External:
			default:
				p.fail(v, "%s.provider: unknown provider %q (want embedded, process, container or external)", where, c.Provider)
			}
		case "image":
			c.Image = str(v, "image")
		case "url":
			c.URL = str(v, "url")
		case "durable":
			c.Durable = boolean(v, "durable")
		case "proxied":
			c.Proxied = boolean(v, "proxied")
		case "addrs":
			if v.Kind != yaml.SequenceNode {
				p.fail(v, "%s.addrs: expected a list of host:port", where)
				continue
			}
			for _, a := range v.Content {
				c.Addrs = append(c.Addrs, str(a, "addrs"))
			}
		case "options":
			if v.Kind != yaml.MappingNode {
				p.fail(v, "%s.options: expected a mapping of names to values", where)
				continue
			}
			c.Options = map[string]string{}
			for _, o := range p.keys(v, where+".options", nil...) {
				at.fields["options."+o.Key] = position{o.V.Line, o.V.Column}
				c.Options[o.Key] = str(o.V, "options."+o.Key)
			}
		}
	}
	if !hasKind {
		p.fail(n, "%s: missing required key kind", where)
	}
	if !hasProvider {
		p.fail(n, "%s: missing required key provider", where)
	}
	return c
}
