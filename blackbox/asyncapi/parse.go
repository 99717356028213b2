package asyncapi

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// maxNodes bounds the nodes one document expands to once its $refs are
// resolved: far above any real API, low enough that a hostile document
// whose references fan out (A refers to B twice, B to C twice, ...) is
// refused instead of exhausting memory.
const maxNodes = 200_000

// ParseFile reads and parses the AsyncAPI document at path, refusing a file
// larger than yamlfile.MaxSize.
func ParseFile(path string) (*Document, error) {
	data, err := yamlfile.ReadFile(path, 0)
	if err != nil {
		return nil, &SpecError{File: path, Msg: "cannot read AsyncAPI document: " + err.Error()}
	}
	return Parse(path, data)
}

// Parse parses an AsyncAPI 2.x or 3.0 document, YAML or JSON; file names it
// in errors. A document edkit cannot use is one or more *SpecError joined,
// each at its line and column.
func Parse(file string, data []byte) (*Document, error) {
	var top yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, yamlError(file, err)
	}
	if len(top.Content) == 0 {
		return nil, &SpecError{File: file, Msg: "empty document: want an AsyncAPI 2.6 or 3.0 document"}
	}
	p := &parser{file: file, root: top.Content[0], budget: maxNodes}
	d := p.document()
	if len(p.probs) > 0 {
		return nil, p.err()
	}
	return d, nil
}

// yamlLine finds the line in yaml.v3's syntax errors ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlError(file string, err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1]) // the pattern admits digits only
		return &SpecError{File: file, Line: line, Msg: "not YAML or JSON: " + m[2]}
	}
	return &SpecError{File: file, Msg: "not YAML or JSON: " + strings.TrimPrefix(msg, "yaml: ")}
}

// parser collects the problems of one document.
type parser struct {
	file  string
	root  *yaml.Node
	probs []yamlfile.Problem
	seen  map[problemKey]bool
	// budget is what remains of maxNodes; exhausted is reported once.
	budget    int
	exhausted bool
	// contentType is the document's defaultContentType, and where.
	contentType     string
	contentTypeNode *yaml.Node
}

// problemKey is a problem's identity: a part of the document read twice
// (a channel two operations share) reports its problems once.
type problemKey struct {
	line, column int
	msg          string
}

func (p *parser) add(probs ...yamlfile.Problem) {
	if p.seen == nil {
		p.seen = map[problemKey]bool{}
	}
	for _, pr := range probs {
		k := problemKey{pr.Node.Line, pr.Node.Column, pr.Msg}
		if !p.seen[k] {
			p.seen[k] = true
			p.probs = append(p.probs, pr)
		}
	}
}

func (p *parser) problem(n *yaml.Node, format string, args ...any) {
	p.add(yamlfile.Problemf(n, format, args...))
}

func (p *parser) err() error {
	errs := make([]error, 0, len(p.probs))
	for _, pr := range p.probs {
		errs = append(errs, &SpecError{File: p.file, Line: pr.Node.Line, Column: pr.Node.Column, Msg: pr.Msg})
	}
	return errors.Join(errs...)
}

// object is a mapping's fields, by name and in file order.
type object struct {
	fields []yamlfile.Field
	byKey  map[string]yamlfile.Field
}

// get is the value of key, nil when absent.
func (o object) get(key string) *yaml.Node {
	if f, ok := o.byKey[key]; ok {
		return f.V
	}
	return nil
}

// object reads a mapping of the specification's fixed fields, named what:
// a key neither in known (nil: any) nor a specification extension (x-...)
// is a problem, as are repeated keys and aliases.
func (p *parser) object(n *yaml.Node, what string, known []string) object {
	fields, probs := yamlfile.Keys(n, what, nil)
	p.add(probs...)
	o := object{byKey: make(map[string]yamlfile.Field, len(fields))}
	for _, f := range fields {
		if known != nil && !slices.Contains(known, f.Key) && !strings.HasPrefix(f.Key, "x-") {
			p.problem(f.K, "%s: unknown key %q (want one of %s, or x-...)", what, f.Key, strings.Join(known, ", "))
			continue
		}
		o.fields = append(o.fields, f)
		o.byKey[f.Key] = f
	}
	return o
}

func (p *parser) str(n *yaml.Node, what string) string {
	s, probs := yamlfile.String(n, what)
	p.add(probs...)
	return s
}

// version is a supported specification version: 2.0.0 to 2.6.0, or 3.0.x.
var version = regexp.MustCompile(`^(2\.[0-6]|3\.0)\.[0-9]+$`)

var (
	v2RootKeys = []string{"asyncapi", "id", "info", "servers", "defaultContentType", "channels", "components", "tags", "externalDocs"}
	v3RootKeys = []string{"asyncapi", "id", "info", "servers", "defaultContentType", "channels", "operations", "components"}
)

func (p *parser) document() *Document {
	d := &Document{File: p.file}
	if p.root.Kind != yaml.MappingNode {
		p.problem(p.root, "expected an AsyncAPI document (a mapping with asyncapi, info, channels), got %s", yamlfile.Describe(p.root))
		return d
	}
	vn := child(p.root, "asyncapi")
	if vn == nil {
		p.problem(p.root, "missing asyncapi: want the specification's version, 2.6.0 or 3.0.0")
		return d
	}
	d.AsyncAPI = p.str(vn, "asyncapi")
	if !version.MatchString(d.AsyncAPI) {
		p.problem(vn, "asyncapi: version %s is not supported (want 2.0.0 to 2.6.0, or 3.0.x)", yamlfile.Describe(vn))
		return d
	}
	v3 := strings.HasPrefix(d.AsyncAPI, "3.")
	known := v2RootKeys
	if v3 {
		known = v3RootKeys
	}
	root := p.object(p.root, "document", known)
	p.info(d, root.get("info"))
	if n := root.get("defaultContentType"); n != nil {
		p.contentType, p.contentTypeNode = p.str(n, "defaultContentType"), n
	}
	if v3 {
		p.v3(d, root)
	} else {
		p.v2(d, root)
	}
	if len(d.Operations) == 0 && len(p.probs) == 0 {
		p.problem(p.root, "the document has no operations: want channels with publish or subscribe (2.x), or operations (3.0)")
	}
	p.uniqueIDs(d)
	return d
}

func (p *parser) info(d *Document, n *yaml.Node) {
	if n == nil {
		return
	}
	o := p.object(n, "info", nil)
	if t := o.get("title"); t != nil {
		d.Title = p.str(t, "info.title")
	}
	if v := o.get("version"); v != nil {
		d.Version = p.str(v, "info.version")
	}
}

// uniqueIDs refuses two operations with one ID: a workload names
// operations by ID.
func (p *parser) uniqueIDs(d *Document) {
	seen := make(map[string]bool, len(d.Operations))
	for _, op := range d.Operations {
		if seen[op.ID] {
			p.add(yamlfile.Problem{Node: &yaml.Node{Line: op.Line, Column: op.Column}, Msg: "a second operation with id " + strconv.Quote(op.ID)})
		}
		seen[op.ID] = true
	}
}
