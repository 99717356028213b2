package scaffold

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/yamlfile"
	"github.com/edkit-dev/edkit/scenarios"
)

// KindScenario is the kind WriteScenario writes: a YAML scenario file for
// `edload scenario`, not Go code.
const KindScenario = "scenario"

// fileNameRE is a scenario's name: it is the file's name, and the
// scenario's title once its dashes are spaces.
var fileNameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// maxFileName bounds a scenario's name, as nameRE bounds a Go name.
const maxFileName = 64

// scenarioData is what the scenario template sees. A payload is a YAML
// flow mapping ("" when it cannot be shown); a type is "" when the system
// registers none of its kind.
type scenarioData struct {
	File, Title, System  string
	Speaker              bool
	Setup                string
	Command, CommandWith string
	Event, EventWith     string
	// EventField is the event's first field, EventPointer its JSON
	// pointer, for the commented match.
	EventField, EventPointer string
	Message, MessageWith     string
	// Sent is a type name for the commented messages expectation.
	Sent string
}

// WriteScenario writes DIR/NAME.yaml, a scenario file for system that
// parses against vocab and that `edload scenario` runs: a setup section
// when the system takes one, one command of the first type it registers
// (its zero value, so the file shows the field names), the
// no-acknowledged-loss invariant, and every other kind of step and
// expectation as a comment. With a nil vocab (a system that implements no
// scenarios.Speaker) the file only lets time pass. dir is created when
// missing; an existing file is never overwritten. It returns the path
// written.
func WriteScenario(dir, name, system string, vocab *scenarios.Vocabulary) (string, error) {
	if len(name) > maxFileName || !fileNameRE.MatchString(name) {
		return "", fmt.Errorf("%w: name %q (want lower-case letters, digits and single dashes, at most %d: payment-declined)",
			ErrBadInput, name, maxFileName)
	}
	path := filepath.Join(dir, name+".yaml")
	if _, err := os.Lstat(path); err == nil {
		return "", fmt.Errorf("%w: %s", ErrExists, path)
	}
	src, err := renderScenario(path, name, system, vocab)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644) //nolint:gosec // a source file, readable
	if errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("%w: %s", ErrExists, path)
	}
	if err != nil {
		return "", err
	}
	_, werr := f.Write(src)
	if err := errors.Join(werr, f.Close()); err != nil {
		return "", err
	}
	return path, nil
}

// renderScenario renders the skeleton and parses it as `edload scenario`
// will: a system's types whose zero value does not survive the round trip
// fail here, before anything is written, not in the user's first run.
func renderScenario(path, name, system string, vocab *scenarios.Vocabulary) ([]byte, error) {
	d := scenarioData{File: path, Title: scalar(strings.ReplaceAll(name, "-", " ")), System: system, Speaker: vocab != nil,
		EventField: "field", EventPointer: "/field"}
	if vocab != nil {
		if _, ok := vocab.NewSetup(); ok {
			d.Setup = payload(func() any { v, _ := vocab.NewSetup(); return v })
		}
		d.Command, d.CommandWith = first(vocab, scenarios.KindCommand)
		d.Event, d.EventWith = first(vocab, scenarios.KindEvent)
		d.Message, d.MessageWith = first(vocab, scenarios.KindMessage)
		if f := firstField(vocab, d.Event); f != "" {
			d.EventField, d.EventPointer = scalar(f), scalar("/"+f)
		}
		d.Command, d.Event, d.Message = scalar(d.Command), scalar(d.Event), scalar(d.Message)
		d.Sent = d.Command
		if d.Sent == "" {
			d.Sent = d.Message
		}
	}
	t, err := template.ParseFS(templates, "templates/scenario.yaml.tmpl")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, err
	}
	check := vocab
	if check == nil {
		check = &scenarios.Vocabulary{}
	}
	if _, err := scenarios.Parse(path, b.Bytes(), check); err != nil {
		return nil, fmt.Errorf("scaffold: the scenario skeleton for %s does not parse (a zero value its types refuse?): %w", system, err)
	}
	return b.Bytes(), nil
}

// first is the first type of kind k the system registers, by name, and
// its zero value as a flow mapping.
func first(vocab *scenarios.Vocabulary, k scenarios.Kind) (name, with string) {
	names := vocab.Types(k)
	if len(names) == 0 {
		return "", ""
	}
	return names[0], payload(func() any { v, _ := vocab.New(k, names[0]); return v })
}

// firstField is the first JSON field of event type name, for the
// commented `where:` example ("" when it has none).
func firstField(vocab *scenarios.Vocabulary, name string) string {
	if v, ok := vocab.New(scenarios.KindEvent, name); ok {
		if data, err := json.Marshal(v); err == nil {
			dec := json.NewDecoder(bytes.NewReader(data))
			if t, err := dec.Token(); err == nil && t == json.Delim('{') {
				if k, err := dec.Token(); err == nil {
					if s, ok := k.(string); ok && s != "" && !strings.ContainsAny(s, "/~") {
						return s
					}
				}
			}
		}
	}
	return ""
}

// plainRE is a name YAML reads as the string it is, in a block or a flow
// collection, unless it is one of plainWords.
var plainRE = regexp.MustCompile(`^[A-Za-z_/]([A-Za-z0-9_./ -]*[A-Za-z0-9_./-])?$`)

// scalar is s as a YAML string: plain when it reads back as s, else
// double-quoted (a type named "true", "1.0" or "a, b").
func scalar(s string) string {
	if s == "" || plainRE.MatchString(s) && !plainWord(s) {
		return s
	}
	return strconv.Quote(s)
}

// plainWord says whether YAML (1.1 or 1.2) resolves plain s to a null, a
// boolean or a number instead of a string.
func plainWord(s string) bool {
	switch strings.ToLower(s) {
	case "null", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", ".nan":
		return true
	}
	return false
}

// payload is the zero value newValue returns as a YAML flow mapping, its
// fields in the order the type declares them; nil slices and maps are
// shown empty ([] and {}), so a reader sees each field's shape. It is ""
// when the value has no JSON object form or the type refuses it back (a
// custom UnmarshalJSON): the file then goes without that payload.
func payload(newValue func() any) string {
	v := newValue()
	if v == nil {
		return ""
	}
	fillEmpty(reflect.ValueOf(v), 0)
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	flow := flowYAML(data)
	if flow == "" || !decodes(flow, newValue()) {
		return ""
	}
	return flow
}

// decodes says whether flow, read as a scenario file's payload is (YAML
// to JSON, unknown fields refused), decodes into v.
func decodes(flow string, v any) bool {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(flow), &n); err != nil {
		return false
	}
	data, probs := yamlfile.JSON(&n, "with")
	if len(probs) > 0 {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v) == nil
}

// flowYAML is the JSON object data as a YAML flow mapping, or "".
func flowYAML(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := jsonNode(dec)
	if err != nil || n.Kind != yaml.MappingNode {
		return ""
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(n); err != nil {
		return ""
	}
	if err := enc.Close(); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// maxFill bounds how deep fillEmpty walks nested structs.
const maxFill = 8

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// fillEmpty sets the nil slices and maps of the struct v points to (and
// of the structs it holds) to empty ones. Types that marshal themselves
// are left as they are: their empty value may not be their zero's JSON.
func fillEmpty(v reflect.Value, depth int) {
	if depth > maxFill {
		return
	}
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || marshalsItself(v.Type()) {
		return
	}
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() || marshalsItself(f.Type()) {
			continue
		}
		switch f.Kind() {
		case reflect.Slice:
			if f.IsNil() {
				f.Set(reflect.MakeSlice(f.Type(), 0, 0))
			}
		case reflect.Map:
			if f.IsNil() {
				f.Set(reflect.MakeMap(f.Type()))
			}
		case reflect.Struct:
			fillEmpty(f, depth+1)
		default:
		}
	}
}

func marshalsItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(jsonMarshaler) || p.Implements(jsonMarshaler) || t.Implements(textMarshaler) || p.Implements(textMarshaler)
}

// jsonNode reads one JSON value from dec as a YAML node in flow style,
// keeping the order of object members.
func jsonNode(dec *json.Decoder) (*yaml.Node, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		if t == '{' {
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := k.(string)
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key})
			}
			c, err := jsonNode(dec)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t}, nil
	case json.Number:
		tag := "!!float"
		if _, err := t.Int64(); err == nil {
			tag = "!!int"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(t)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, io.ErrUnexpectedEOF
}
