package blackbox

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/jsonvalue"
	"github.com/edkit-dev/edkit/harness/yamlfile"
	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/scenarios/match"
)

// Limits of a workload file: far above any hand-written one, low enough
// that a generated or hostile file cannot make edkit allocate without end.
const (
	maxInputs  = 64
	maxExpects = 16
	maxOutputs = 64
	maxArgs    = 256
	maxWithin  = 24 * time.Hour
	maxRun     = 366 * 24 * time.Hour
	maxKeys    = 10_000_000
	maxWeight  = 1_000_000
)

// parser collects the problems of one file.
type parser struct {
	file         string
	probs        []yamlfile.Problem
	asyncapiPath string // --asyncapi, over the file's own key
	w            *Workload
}

func (p *parser) add(probs ...yamlfile.Problem) { p.probs = append(p.probs, probs...) }

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

// ParseFile reads and parses the workload file at path.
func ParseFile(path string, opts ...ParseOption) (*Workload, error) {
	data, err := yamlfile.ReadFile(path, 0)
	if err != nil {
		return nil, &SpecError{File: path, Msg: "cannot read workload file: " + err.Error()}
	}
	return Parse(path, data, opts...)
}

// Parse parses a workload file's contents; file names it in errors. A
// malformed file is one or more *SpecError joined, each at its line and
// column.
func Parse(file string, data []byte, opts ...ParseOption) (*Workload, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &SpecError{File: file, Msg: "not YAML: " + err.Error()}
	}
	if len(doc.Content) == 0 {
		return nil, &SpecError{File: file, Msg: "empty file: want a workload (name, broker, load, inputs, outputs)"}
	}
	p := &parser{file: file}
	for _, o := range opts {
		o(p)
	}
	w := p.workload(doc.Content[0])
	if len(p.probs) > 0 {
		return nil, p.err()
	}
	return w, nil
}

var topKeys = []string{"name", "description", "broker", "service", "load", "correlation", "asyncapi", "inputs", "outputs", "duplicates", "slo"}

func (p *parser) workload(n *yaml.Node) *Workload {
	w := &Workload{File: p.file, Broker: harness.Broker{Kind: harness.BrokerKafka}, Load: defaultLoad()}
	p.w = w
	fields, probs := yamlfile.Keys(n, "workload", topKeys)
	p.add(probs...)
	if p.asyncapiPath != "" {
		p.loadAsyncAPI(w, n, p.asyncapiPath)
	}
	seen := map[string]*yaml.Node{}
	for _, f := range fields { // the contract first: inputs may name its messages
		if f.Key == "asyncapi" {
			p.asyncapiField(w, f.V)
		}
	}
	for _, f := range fields {
		seen[f.Key] = f.K
		p.workloadField(w, f)
	}
	required := []string{"name", "correlation", "inputs", "outputs"}
	if w.AsyncAPI != nil {
		required = required[:2] // the contract gives inputs and outputs
	}
	for _, k := range required {
		if seen[k] == nil && n.Kind == yaml.MappingNode {
			p.problem(n, "workload: missing %s", k)
		}
	}
	w.fromContract()
	p.crossCheck(w, n)
	return w
}

func (p *parser) workloadField(w *Workload, f yamlfile.Field) {
	switch f.Key {
	case "name":
		w.Name = p.str(f.V, "name")
	case "description":
		w.Description = p.str(f.V, "description")
	case "broker":
		w.Broker = p.broker(f.V)
	case "service":
		w.Service = p.service(f.V)
	case "load":
		w.Load = p.load(f.V)
	case "correlation":
		w.Correlation = p.correlation(f.V)
	case "asyncapi": // read first, by workload
	case "inputs":
		w.Inputs = p.inputs(f.V)
	case "outputs":
		w.Outputs = p.outputs(f.V)
	case "duplicates":
		w.Duplicates = p.choice(f.V, "duplicates", "allowed", "forbidden") == "allowed"
	case "slo":
		s := p.str(f.V, "slo")
		slo, err := harness.ParseSLO(s)
		if err != nil {
			p.problem(f.V, "slo: %v", err)
		}
		w.SLO = slo
	}
}

func (p *parser) str(n *yaml.Node, what string) string {
	s, probs := yamlfile.String(n, what)
	p.add(probs...)
	return s
}

func (p *parser) choice(n *yaml.Node, what string, options ...string) string {
	s := p.str(n, what)
	for _, o := range options {
		if s == o {
			return s
		}
	}
	p.problem(n, "%s: expected one of %v, got %s", what, options, yamlfile.Describe(n))
	return options[0]
}

func (p *parser) integer(n *yaml.Node, what string, lo, hi int64) int64 {
	v, probs := yamlfile.Int(n, what, lo, hi)
	p.add(probs...)
	return v
}

func (p *parser) duration(n *yaml.Node, what string, most time.Duration) time.Duration {
	d, probs := yamlfile.Duration(n, what, most)
	p.add(probs...)
	return d
}

func (p *parser) boolean(n *yaml.Node, what string) bool {
	b, probs := yamlfile.Bool(n, what)
	p.add(probs...)
	return b
}

func (p *parser) template(n *yaml.Node, what string) *template.Template {
	s := p.str(n, what)
	t, err := parseTemplate(what, s)
	if err != nil {
		p.problem(n, "%s: %v", what, err)
		t, _ = parseTemplate(what, "")
	}
	return t
}

// ParseBroker reads a broker section (kind, provider, addrs, url,
// partitions, durable, proxied) from n.
func ParseBroker(n *yaml.Node) (harness.Broker, []yamlfile.Problem) {
	p := &parser{}
	b := p.broker(n)
	return b, p.probs
}

func (p *parser) broker(n *yaml.Node) harness.Broker {
	b := harness.Broker{Kind: harness.BrokerKafka}
	fields, probs := yamlfile.Keys(n, "broker", []string{"kind", "provider", "addrs", "url", "partitions", "durable", "proxied"})
	p.add(probs...)
	for _, f := range fields {
		switch f.Key {
		case "kind":
			b.Kind = p.choice(f.V, "broker.kind", harness.BrokerKinds()...)
		case "provider":
			b.Provider = env.ProviderName(p.choice(f.V, "broker.provider", "embedded", "process", "container", "external"))
		case "addrs":
			addrs, probs := yamlfile.Strings(f.V, "broker.addrs")
			b.Endpoint.Addrs = addrs
			p.add(probs...)
		case "url":
			b.Endpoint.URL = p.str(f.V, "broker.url")
		case "partitions":
			b.Partitions = int(p.integer(f.V, "broker.partitions", 1, harness.MaxPartitions))
		case "durable":
			b.Durable = p.boolean(f.V, "broker.durable")
		case "proxied":
			b.Proxied = p.boolean(f.V, "broker.proxied")
		}
	}
	if err := b.Validate(); err != nil && n.Kind == yaml.MappingNode {
		p.problem(n, "broker: %v", err)
	}
	return b
}

func (p *parser) service(n *yaml.Node) *Service {
	s := &Service{}
	fields, probs := yamlfile.Keys(n, "service", []string{"command", "env", "dir", "ready", "ready_timeout"})
	p.add(probs...)
	for _, f := range fields {
		switch f.Key {
		case "command":
			p.command(s, f.V)
		case "env":
			s.Env = p.templates(f.V, "service.env")
		case "dir":
			s.Dir = p.str(f.V, "service.dir")
		case "ready":
			s.Ready = p.str(f.V, "service.ready")
		case "ready_timeout":
			s.ReadyTimeout = p.duration(f.V, "service.ready_timeout", time.Hour)
		}
	}
	if len(s.Command) == 0 && n.Kind == yaml.MappingNode {
		p.problem(n, "service: missing command (the program and its arguments)")
	}
	return s
}

func (p *parser) command(s *Service, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 || len(n.Content) > maxArgs {
		p.problem(n, "service.command: expected the program and its arguments, 1 to %d strings, got %s", maxArgs, yamlfile.Describe(n))
		return
	}
	for i, c := range n.Content {
		src := c.Value
		if i == 0 && (strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../")) {
			// A program beside the workload file runs from anywhere.
			src = filepath.Join(filepath.Dir(p.file), src)
			c = &yaml.Node{Kind: c.Kind, Tag: c.Tag, Value: src, Line: c.Line, Column: c.Column}
		}
		s.Command = append(s.Command, p.template(c, fmt.Sprintf("service.command[%d]", i)))
		s.Source = append(s.Source, src)
	}
}

// templates reads a mapping of names to templates (headers, environment).
func (p *parser) templates(n *yaml.Node, what string) map[string]*template.Template {
	fields, probs := yamlfile.Keys(n, what, nil)
	p.add(probs...)
	m := make(map[string]*template.Template, len(fields))
	for _, f := range fields {
		m[f.Key] = p.template(f.V, what+"."+f.Key)
	}
	return m
}

// ParseLoad reads a load section (rate, duration, count, keys,
// distribution, workers, seed, warmup) from n, named what in problems:
// workload and experiment files spell their load alike.
func ParseLoad(n *yaml.Node, what string) (Load, []yamlfile.Problem) {
	p := &parser{}
	l := p.loadAs(n, what)
	return l, p.probs
}

// DefaultLoad is the load of a file that gives none.
func DefaultLoad() Load { return defaultLoad() }

func defaultLoad() Load {
	return Load{Rate: "100", Duration: 10 * time.Second, Keys: 100, Distribution: "uniform", Workers: 64, Seed: 1}
}

func (p *parser) load(n *yaml.Node) Load { return p.loadAs(n, "load") }

func (p *parser) loadAs(n *yaml.Node, what string) Load {
	l := defaultLoad()
	fields, probs := yamlfile.Keys(n, what, []string{"rate", "duration", "count", "keys", "distribution", "workers", "seed", "warmup"})
	p.add(probs...)
	for _, f := range fields {
		switch f.Key {
		case "rate":
			l.Rate = p.str(f.V, what+".rate")
			if _, err := loadgen.ParseRate(l.Rate); err != nil {
				p.problem(f.V, "%s.rate: %v", what, err)
			}
		case "duration":
			l.Duration = p.duration(f.V, what+".duration", maxRun)
		case "count":
			l.Count = uint64(p.integer(f.V, what+".count", 1, int64(min(loadgen.MaxCount, math.MaxInt64))))
		case "keys":
			l.Keys = int(p.integer(f.V, what+".keys", 1, maxKeys))
		case "distribution":
			l.Distribution = p.str(f.V, what+".distribution")
			if _, err := loadgen.ParseKeys(l.Distribution); err != nil {
				p.problem(f.V, "%s.distribution: %v", what, err)
			}
		case "workers":
			l.Workers = int(p.integer(f.V, what+".workers", 1, loadgen.MaxWorkers))
		case "seed":
			l.Seed = p.integer(f.V, what+".seed", math.MinInt64, math.MaxInt64)
		case "warmup":
			l.WarmUp = p.duration(f.V, what+".warmup", maxRun)
		}
	}
	return l
}

func (p *parser) correlation(n *yaml.Node) Correlation {
	var c Correlation
	fields, probs := yamlfile.Keys(n, "correlation", []string{"header", "input", "output"})
	p.add(probs...)
	for _, f := range fields {
		switch f.Key {
		case "header":
			c.Header = p.str(f.V, "correlation.header")
		case "input", "output":
			ptr := p.str(f.V, "correlation."+f.Key)
			if _, err := jsonvalue.ParsePointer(ptr); err != nil || ptr == "" {
				p.problem(f.V, "correlation.%s: expected a JSON pointer such as /id, got %s", f.Key, yamlfile.Describe(f.V))
			}
			if f.Key == "input" {
				c.Input = ptr
			} else {
				c.Output = ptr
			}
		}
	}
	byHeader, byPointer := c.Header != "", c.Input != "" || c.Output != ""
	switch {
	case n.Kind != yaml.MappingNode:
	case byHeader == byPointer:
		p.problem(n, "correlation: give either header (edkit sets it on each input; the service copies it to its outputs) or input and output (JSON pointers into the payloads)")
	case byPointer && (c.Input == "" || c.Output == ""):
		p.problem(n, "correlation: give both input and output pointers")
	}
	return c
}

func (p *parser) inputs(n *yaml.Node) []Input {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 || len(n.Content) > maxInputs {
		p.problem(n, "inputs: expected a sequence of 1 to %d inputs, got %s", maxInputs, yamlfile.Describe(n))
		return nil
	}
	out := make([]Input, 0, len(n.Content))
	names := map[string]bool{}
	for i, c := range n.Content {
		in := p.input(c, fmt.Sprintf("inputs[%d]", i))
		if names[in.Name] {
			p.problem(c, "inputs[%d]: a second input named %q", i, in.Name)
		}
		names[in.Name] = true
		out = append(out, in)
	}
	return out
}

var inputKeys = []string{"name", "message", "topic", "key", "payload", "headers", "step", "weight", "schema", "expect"}

func (p *parser) input(n *yaml.Node, what string) Input {
	in := Input{Step: AnyStep, Weight: 1, node: n}
	in.Key, _ = parseTemplate("key", "{{ .Key }}")
	fields, probs := yamlfile.Keys(n, what, inputKeys)
	p.add(probs...)
	for _, f := range fields {
		p.inputField(&in, f, what)
	}
	if in.Message != nil && in.Payload == nil {
		in.Payload = noPayload
	}
	if n.Kind == yaml.MappingNode {
		for k, v := range map[string]bool{"name": in.Name != "", "topic": in.Topic != "", "payload or message": in.Payload != nil} {
			if !v {
				p.problem(n, "%s: missing %s", what, k)
			}
		}
	}
	return in
}

func (p *parser) inputField(in *Input, f yamlfile.Field, what string) {
	what += "." + f.Key
	switch f.Key {
	case "name":
		in.Name = p.str(f.V, what)
	case "message":
		p.inputMessage(in, f.V, what)
	case "topic":
		in.Topic = p.str(f.V, what)
	case "key":
		in.Key = p.template(f.V, what)
	case "payload":
		in.Payload = p.template(f.V, what)
	case "headers":
		in.Headers = p.templates(f.V, what)
	case "step":
		in.Step = int(p.integer(f.V, what, 0, math.MaxInt32))
	case "weight":
		in.Weight = int(p.integer(f.V, what, 1, maxWeight))
	case "schema":
		in.Schema = p.schema(f.V, what)
	case "expect":
		in.Expect = p.expects(f.V, what)
	}
}

// errNotLoaded refuses a $ref to another document: a workload's schemas
// are self-contained.
var errNotLoaded = errors.New("a workload's schemas may not refer to other documents")

func (p *parser) schema(n *yaml.Node, what string) *jsonschema.Schema {
	data, probs := yamlfile.JSON(n, what)
	if len(probs) > 0 {
		p.add(probs...)
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err == nil {
		var s *jsonschema.Schema
		if s, err = jsonvalue.CompileSchema("inline:///input.schema.json", doc, errNotLoaded); err == nil {
			return s
		}
	}
	p.problem(n, "%s: not a usable JSON Schema: %s", what, oneLine(err.Error()))
	return nil
}

func (p *parser) expects(n *yaml.Node, what string) []Expect {
	if n.Kind != yaml.SequenceNode || len(n.Content) > maxExpects {
		p.problem(n, "%s: expected a sequence of up to %d outputs, got %s", what, maxExpects, yamlfile.Describe(n))
		return nil
	}
	out := make([]Expect, 0, len(n.Content))
	for i, c := range n.Content {
		w := fmt.Sprintf("%s[%d]", what, i)
		e := Expect{Within: DefaultWithin, node: c}
		fields, probs := yamlfile.Keys(c, w, []string{"topic", "within", "match"})
		p.add(probs...)
		for _, f := range fields {
			switch f.Key {
			case "topic":
				e.Topic = p.str(f.V, w+".topic")
			case "within":
				e.Within = p.duration(f.V, w+".within", maxWithin)
			case "match":
				m, probs := match.Parse(f.V, w+".match")
				e.Match = m
				p.add(probs...)
			}
		}
		if e.Topic == "" && c.Kind == yaml.MappingNode {
			p.problem(c, "%s: missing topic", w)
		}
		out = append(out, e)
	}
	return out
}

func (p *parser) outputs(n *yaml.Node) []Output {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 || len(n.Content) > maxOutputs {
		p.problem(n, "outputs: expected a sequence of 1 to %d outputs, got %s", maxOutputs, yamlfile.Describe(n))
		return nil
	}
	out := make([]Output, 0, len(n.Content))
	for i, c := range n.Content {
		w := fmt.Sprintf("outputs[%d]", i)
		o := Output{Group: DefaultGroup}
		fields, probs := yamlfile.Keys(c, w, []string{"topic", "group", "order"})
		p.add(probs...)
		for _, f := range fields {
			switch f.Key {
			case "topic":
				o.Topic = p.str(f.V, w+".topic")
			case "group":
				o.Group = p.str(f.V, w+".group")
			case "order":
				o.Order = p.boolean(f.V, w+".order")
			}
		}
		if o.Topic == "" && c.Kind == yaml.MappingNode {
			p.problem(c, "%s: missing topic", w)
		}
		out = append(out, o)
	}
	return out
}

// inputMessage makes the input one of the contract's messages: its
// payloads drawn from the message's schema, its topic the channel's
// unless the file gives one.
func (p *parser) inputMessage(in *Input, n *yaml.Node, what string) {
	name := p.str(n, what)
	if p.w.AsyncAPI == nil {
		p.problem(n, "%s: %q names an AsyncAPI message, but the workload has no asyncapi document", what, name)
		return
	}
	m, channel := p.w.message(name)
	if m == nil {
		p.problem(n, "%s: the AsyncAPI document has no message %q the service receives", what, name)
		return
	}
	in.Message = m
	if in.Topic == "" {
		in.Topic = channel
	}
	if in.Name == "" {
		in.Name = name
	}
}
