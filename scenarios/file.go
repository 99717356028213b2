package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/yamlfile"
	"github.com/edkit-dev/edkit/scenarios/match"
)

// Scenario is one parsed scenario file: what the system is given, what
// happens, and what must then hold. Every type it names is in the system's
// Vocabulary and every payload decoded, so a parsed Scenario runs.
type Scenario struct {
	File, Name, Description string
	// Timeout bounds each wait for the system to settle (default
	// DefaultTimeout).
	Timeout time.Duration
	// Dedup is handed to the system (harness.Env.Dedup); default true.
	Dedup bool
	// Setup is the decoded `setup:` section (nil when the file has none).
	Setup       any
	Given, When []Step
	Then        []Expectation
}

// DefaultTimeout bounds each wait of a scenario that sets none.
const DefaultTimeout = 10 * time.Second

// Step is one given or when step: exactly one of a command sent, an event
// appended, a message published, or time elapsed.
type Step struct {
	Line, Column int
	Kind         Kind // KindCommand, KindEvent, KindMessage; "" for Elapse
	Type         string
	ID           string
	// Times sends a command that many times with the same ID (a retry).
	Times  int
	Value  any    // the decoded command or event
	Data   []byte // the payload as JSON (a message's raw payload as written)
	Stream string
	Topic  string
	Key    string
	// Headers are a message's; Metadata an event's.
	Headers, Metadata map[string]string
	Elapse            time.Duration
}

// Expectation is one `then` entry. Exactly one of its pointers is set.
type Expectation struct {
	Line, Column int
	// Text is the entry as the report prints it.
	Text       string
	Events     *EventsExpectation
	Event      *EventExpectation
	Messages   *MessagesExpectation
	View       *ViewExpectation
	DeadLetter *DeadLetterExpectation
	// Invariant names a checker whose verdict must be in the run and valid.
	Invariant string
}

// EventsExpectation: the stream holds exactly these event types, in order.
type EventsExpectation struct {
	Stream string
	Types  []string
}

// EventExpectation: the stream holds an event of Type whose data meets
// Match; with Count > 0, exactly Count such events.
type EventExpectation struct {
	Stream, Type string
	Match        *match.Match
	Count        int
}

// MessagesExpectation: the messages published on Topic (with Key, when
// set) were exactly these types, in order of publication.
type MessagesExpectation struct {
	Topic, Key string
	Types      []string
}

// ViewExpectation: the read model Name has a row ID meeting Match, or none
// when Absent.
type ViewExpectation struct {
	Name, ID string
	Match    *match.Match
	Absent   bool
}

// DeadLetterExpectation: message ID was dead-lettered (after Attempts
// attempts when set, with a reason containing Reason when set).
type DeadLetterExpectation struct {
	ID       string
	Attempts int
	Reason   string
}

// parser collects problems while it walks one file.
type parser struct {
	file  string
	vocab *Vocabulary
	probs []yamlfile.Problem
}

func (p *parser) add(probs ...yamlfile.Problem) { p.probs = append(p.probs, probs...) }

func (p *parser) problem(n *yaml.Node, format string, args ...any) {
	p.add(yamlfile.Problemf(n, format, args...))
}

// err joins the problems as *SpecError, file:line:column each.
func (p *parser) err() error {
	errs := make([]error, 0, len(p.probs))
	for _, pr := range p.probs {
		errs = append(errs, &SpecError{File: p.file, Line: pr.Node.Line, Column: pr.Node.Column, Msg: pr.Msg})
	}
	return errors.Join(errs...)
}

// ParseFile reads and parses the scenario file at path against vocab.
func ParseFile(path string, vocab *Vocabulary) (*Scenario, error) {
	data, err := yamlfile.ReadFile(path, 0)
	if err != nil {
		return nil, &SpecError{File: path, Msg: "cannot read scenario file: " + err.Error()}
	}
	return Parse(path, data, vocab)
}

// Parse parses one scenario file's contents; file names it in errors. A
// malformed file is one or more *SpecError joined, and nothing of it runs.
func Parse(file string, data []byte, vocab *Vocabulary) (*Scenario, error) {
	if vocab == nil {
		vocab = &Vocabulary{}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &SpecError{File: file, Msg: "not YAML: " + err.Error()}
	}
	if len(doc.Content) == 0 {
		return nil, &SpecError{File: file, Msg: "empty file: want a scenario (name, when, then)"}
	}
	p := &parser{file: file, vocab: vocab}
	sc := p.scenario(doc.Content[0])
	if len(p.probs) > 0 {
		return nil, p.err()
	}
	return sc, nil
}

func (p *parser) scenario(n *yaml.Node) *Scenario {
	sc := &Scenario{File: p.file, Timeout: DefaultTimeout, Dedup: true}
	fields, probs := yamlfile.Keys(n, "scenario", []string{"name", "description", "timeout", "dedup", "setup", "given", "when", "then"})
	p.add(probs...)
	seen := map[string]bool{}
	for _, f := range fields {
		seen[f.Key] = true
		switch f.Key {
		case "name":
			if sc.Name = p.str(f.V, "name"); sc.Name == "" && f.V.Kind == yaml.ScalarNode && f.V.ShortTag() != "!!null" {
				p.problem(f.V, "name: want a name for the reports, got an empty string")
			}
		case "description":
			sc.Description = p.str(f.V, "description")
		case "timeout":
			sc.Timeout = p.duration(f.V, "timeout")
		case "dedup":
			sc.Dedup = p.boolean(f.V, "dedup")
		case "setup":
			sc.Setup = p.setup(f.V)
		case "given":
			sc.Given = p.steps(f.V, "given")
		case "when":
			sc.When = p.steps(f.V, "when")
		case "then":
			sc.Then = p.expectations(f.V)
		}
	}
	for _, k := range []string{"name", "when", "then"} {
		if !seen[k] && n.Kind == yaml.MappingNode {
			p.problem(n, "scenario: missing %q", k)
		}
	}
	return sc
}

func (p *parser) setup(n *yaml.Node) any {
	if p.vocab.setup == nil {
		p.problem(n, "setup: this system takes no setup section")
		return nil
	}
	v := p.vocab.setup()
	p.decode(n, "setup", v)
	return v
}

// decode converts n to JSON and decodes it into v, refusing unknown fields.
func (p *parser) decode(n *yaml.Node, what string, v any) []byte {
	data, probs := yamlfile.JSON(n, what)
	if len(probs) > 0 {
		p.add(probs...)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		p.problem(n, "%s: %v", what, err)
	}
	return data
}

func (p *parser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.problem(n, "%s: expected a string, got %s", what, yamlfile.Describe(n))
		return ""
	}
	return n.Value
}

func (p *parser) strs(n *yaml.Node, what string) []string {
	if n.Kind != yaml.SequenceNode {
		p.problem(n, "%s: expected a sequence of names, got %s", what, yamlfile.Describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, p.str(c, what))
	}
	return out
}

func (p *parser) strMap(n *yaml.Node, what string) map[string]string {
	fields, probs := yamlfile.Keys(n, what, nil)
	p.add(probs...)
	m := make(map[string]string, len(fields))
	for _, f := range fields {
		m[f.Key] = p.str(f.V, what+"."+f.Key)
	}
	return m
}

func (p *parser) boolean(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		p.problem(n, "%s: expected true or false, got %s", what, yamlfile.Describe(n))
		return false
	}
	return n.Value == "true"
}

// maxCount bounds every count a file gives (times, count, attempts): a
// scenario is a handful of messages, and a count is never a reason to
// allocate or loop without end.
const maxCount = 1000

func (p *parser) count(n *yaml.Node, what string) int {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil || v < 1 || v > maxCount {
		p.problem(n, "%s: expected a whole number from 1 to %d, got %s", what, maxCount, yamlfile.Describe(n))
		return 1
	}
	return v
}

// maxElapse bounds an elapse or timeout: a year of virtual time is far
// beyond any deadline, and a duration near the int64 limit would overflow.
const maxElapse = 366 * 24 * time.Hour

func (p *parser) duration(n *yaml.Node, what string) time.Duration {
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d <= 0 || d > maxElapse {
		p.problem(n, "%s: expected a positive duration up to %s (30s, 5m, 2h), got %s", what, maxElapse, yamlfile.Describe(n))
		return time.Second
	}
	return d
}
