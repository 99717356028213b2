package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// Schema is one JSON Schema document, parsed and compiled.
type Schema struct {
	name     string
	doc      any
	compiled *jsonschema.Schema
}

// Name is the file name the schema was loaded from (or given to Parse).
func (s *Schema) Name() string { return s.name }

// Load reads the JSON or YAML schema file at path through
// yamlfile.ReadFile's size limit and parses it with Parse. A file that
// cannot be read is an *Error wrapping the reason (fs.ErrNotExist,
// yamlfile.ErrTooLarge).
func Load(path string) (*Schema, error) {
	data, err := yamlfile.ReadFile(path, 0)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read schema: " + err.Error(), Err: err}
	}
	return Parse(path, data)
}

// Parse parses data as one JSON Schema document named name. A name ending
// in .yaml or .yml is read as YAML; .json, or data that begins with "{",
// as JSON; anything else as YAML (of which JSON is nearly a subset). The
// schema is compiled as JSON Schema 2020-12 unless its $schema names
// another draft; a $ref may point only inside the document: nothing is
// fetched, from the network or the disk. Every problem is an *Error with
// file:line:column where the file has a place for it, matching ErrInvalid.
func Parse(name string, data []byte) (*Schema, error) {
	var doc any
	var err error
	isJSON := jsonFormat(name, data)
	if isJSON {
		doc, err = decodeJSON(name, data)
	} else {
		doc, err = decodeYAML(name, data)
	}
	if err != nil {
		return nil, err
	}
	switch doc.(type) {
	case map[string]any, bool:
	default:
		return nil, &Error{File: name, Line: 1, Column: 1, Err: ErrInvalid,
			Msg: "not a JSON Schema: want an object (or true or false), got " + jsonvalue.Kind(doc)}
	}
	if n := countObjects(doc, maxObjects+1); n > maxObjects {
		return nil, &Error{File: name, Err: ErrInvalid,
			Msg: fmt.Sprintf("too large to check: more than %d objects (the compiler's cost grows with their square)", maxObjects)}
	}
	compiled, tokens, msg := compile(doc)
	if msg != "" {
		e := &Error{File: name, Msg: msg, Err: ErrInvalid}
		if tokens != nil {
			e.Line, e.Column = locate(data, isJSON, tokens)
		}
		return nil, e
	}
	return &Schema{name: name, doc: doc, compiled: compiled}, nil
}

// maxObjects bounds the objects (subschemas, mostly) in one schema. The
// compiler's cost grows with their square: 10000 take it a fraction of a
// second, 100000 (a 4 MiB file can hold them) minutes. An event schema
// has hundreds.
const maxObjects = 10_000

// countObjects counts the objects in v, stopping at limit.
func countObjects(v any, limit int) int {
	n := 0
	var walk func(any)
	walk = func(v any) {
		if n >= limit {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			n++
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return n
}

// jsonFormat decides how data is read.
func jsonFormat(name string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(data, bom), " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

var bom = []byte("\xef\xbb\xbf")

func decodeJSON(name string, data []byte) (any, error) {
	data = bytes.TrimPrefix(data, bom)
	doc, err := parseJSON(data)
	if err != nil {
		var pe *parseError
		if errors.As(err, &pe) {
			line, col := lineCol(data, pe.off)
			return nil, &Error{File: name, Line: line, Column: col, Msg: pe.msg, Err: ErrInvalid}
		}
		return nil, &Error{File: name, Msg: err.Error(), Err: ErrInvalid}
	}
	return doc, nil
}

// yamlLine is where yaml.v3 says a syntax error is; it gives no column.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func decodeYAML(name string, data []byte) (doc any, err error) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 has panicked on hostile input before
			doc, err = nil, &Error{File: name, Line: 1, Column: 1, Msg: fmt.Sprintf("not YAML: %v", r), Err: ErrInvalid}
		}
	}()
	root, err := yamlRoot(data)
	if err != nil {
		line, msg := 1, err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = msg[len(m[0]):]
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		return nil, &Error{File: name, Line: line, Column: 1, Msg: "not YAML: " + msg, Err: ErrInvalid}
	}
	if root == nil {
		return nil, &Error{File: name, Line: 1, Column: 1, Msg: "empty file: want a JSON Schema (a mapping)", Err: ErrInvalid}
	}
	js, probs := yamlfile.JSON(root, "schema")
	if len(probs) > 0 {
		errs := make([]error, 0, len(probs))
		for _, p := range probs {
			errs = append(errs, &Error{File: name, Line: p.Node.Line, Column: p.Node.Column, Msg: p.Msg, Err: ErrInvalid})
		}
		return nil, errors.Join(errs...)
	}
	doc, err = parseJSON(js)
	if err != nil { // match.JSON writes what parseJSON reads; kept for safety
		return nil, &Error{File: name, Line: root.Line, Column: root.Column, Msg: err.Error(), Err: ErrInvalid}
	}
	return doc, nil
}

// yamlRoot decodes the one document of data; nil when there is none.
func yamlRoot(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		line := more.Line
		if err != nil || line == 0 {
			return nil, fmt.Errorf("yaml: line %d: want one YAML document, found more", max(line, 1))
		}
		return nil, fmt.Errorf("yaml: line %d: want one YAML document, found another", line)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return &doc, nil
}

// locate finds the line and column of the value at tokens; 0, 0 when it is
// not in the file.
func locate(data []byte, isJSON bool, tokens []string) (int, int) {
	if isJSON {
		data = bytes.TrimPrefix(data, bom)
		off := locateJSON(data, tokens)
		if off < 0 {
			return 0, 0
		}
		return lineCol(data, off)
	}
	root, err := yamlRoot(data)
	if err != nil || root == nil {
		return 0, 0
	}
	n := root
	for i, t := range tokens {
		last := i == len(tokens)-1
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == t {
					next = n.Content[j+1]
					if last { // a member is where its name is written
						next = n.Content[j]
					}
					break
				}
			}
		case yaml.SequenceNode:
			if j, err := strconv.Atoi(t); err == nil && j >= 0 && j < len(n.Content) {
				next = n.Content[j]
			}
		}
		if next == nil {
			return n.Line, n.Column
		}
		n = next
	}
	return n.Line, n.Column
}

// schemaURL names the document inside its compiler. Its scheme has no
// loader, and neither has any other: a $ref resolves only inside the
// document or to the metaschemas the library embeds.
const schemaURL = "edkit:///schema.json"

// errNotLoaded is why a $ref to another document fails: the compiler
// reads nothing, from disk or the network, since a check in CI must mean
// the same on every machine and never reach out.
var errNotLoaded = errors.New("schemas are checked offline: a $ref may point only inside the document (#/$defs/...)")

// compile compiles doc, asserting "format" as scenario expectations do.
// On failure it returns a message and, when it has one, the place in the
// document it concerns.
func compile(doc any) (*jsonschema.Schema, []string, string) {
	s, err := jsonvalue.CompileSchema(schemaURL, doc, errNotLoaded)
	if err == nil {
		return s, nil, ""
	}
	tokens, msg := compileProblem(doc, err)
	return nil, tokens, msg
}

// compileProblem words why doc does not compile, and where.
func compileProblem(doc any, err error) ([]string, string) {
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) {
		var ve *jsonschema.ValidationError
		if errors.As(sve.Err, &ve) {
			where, msg := jsonvalue.Leaf(ve)
			return where, "not a valid JSON Schema: at " + ShowPointer(jsonvalue.Pointer(where...)) + ": " + clean(msg)
		}
	}
	var le *jsonschema.LoadURLError
	if errors.As(err, &le) {
		tokens, key, written := findRef(doc, nil, func(v string) bool { return refersTo(v, le.URL) })
		if tokens == nil {
			written = clean(le.URL)
		}
		return tokens, fmt.Sprintf("%s %s refused: %v", key, quote(written), errNotLoaded)
	}
	msg := clean(err.Error())
	// A pointer that resolves to nothing, a bad regex: the library names
	// the place as a fragment of the document's URL.
	if m := fragment.FindStringSubmatch(err.Error()); m != nil {
		frag := m[1]
		if tokens, _, _ := findRef(doc, nil, func(v string) bool { return v == "#"+frag }); tokens != nil {
			return tokens, msg
		}
		if t, ok := splitPointer(frag); ok {
			return t, msg
		}
	}
	return nil, msg
}

var fragment = regexp.MustCompile(regexp.QuoteMeta(schemaURL) + `#([^"\s]*)`)

// clean removes the compiler's name for the document from a message and
// makes it one line.
func clean(s string) string {
	s = strings.ReplaceAll(s, schemaURL, "")
	return jsonvalue.Cut(strings.ReplaceAll(s, "\n", "; "), 4*jsonvalue.MaxShown)
}

// refersTo reports whether a reference written as v is url once resolved
// against the document's URL.
func refersTo(v, url string) bool {
	if v == url {
		return true
	}
	strip := func(s string) string {
		if i := strings.IndexByte(s, '#'); i >= 0 {
			return s[:i]
		}
		return s
	}
	v, url = strip(v), strip(url)
	return v != "" && strings.HasSuffix(url, strings.TrimPrefix(v, "./"))
}

// refKeywords are the keywords that name another schema by URL.
var refKeywords = []string{"$ref", "$dynamicRef", "$recursiveRef", "$schema"}

// findRef finds the first reference keyword (in sorted member order) whose
// value satisfies ok, returning the path to it, the keyword and the value.
func findRef(v any, path []string, ok func(string) bool) ([]string, string, string) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range refKeywords {
			if s, isStr := x[k].(string); isStr && ok(s) {
				return append(slices.Clip(path), k), k, s
			}
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if t, kw, s := findRef(x[k], append(path, k), ok); t != nil {
				return t, kw, s
			}
		}
	case []any:
		for i, e := range x {
			if t, kw, s := findRef(e, append(path, strconv.Itoa(i)), ok); t != nil {
				return t, kw, s
			}
		}
	}
	return nil, "$ref", ""
}
