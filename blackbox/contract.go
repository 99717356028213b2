package blackbox

import (
	"path/filepath"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/blackbox/asyncapi"
)

// ParseOption adjusts how a workload file is read.
type ParseOption func(*parser)

// WithAsyncAPI reads the service's contract from path (as the file's own
// asyncapi key would, which it replaces): `edload run --asyncapi`.
func WithAsyncAPI(path string) ParseOption {
	return func(p *parser) { p.asyncapiPath = path }
}

// asyncapiField reads the asyncapi key: a document path, relative to the
// workload file.
func (p *parser) asyncapiField(w *Workload, n *yaml.Node) {
	path := p.str(n, "asyncapi")
	if path == "" || p.asyncapiPath != "" {
		return
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(p.file), path)
	}
	p.loadAsyncAPI(w, n, path)
}

func (p *parser) loadAsyncAPI(w *Workload, n *yaml.Node, path string) {
	doc, err := asyncapi.ParseFile(path)
	if err != nil {
		p.problem(n, "asyncapi: %s", oneLine(err.Error()))
		return
	}
	w.AsyncAPI = doc
}

// message finds the AsyncAPI message name the service receives, and its
// channel.
func (w *Workload) message(name string) (*asyncapi.Message, string) {
	if w.AsyncAPI == nil {
		return nil, ""
	}
	for _, op := range w.AsyncAPI.Inputs() {
		for i := range op.Messages {
			if op.Messages[i].Name == name {
				return &op.Messages[i], op.Channel
			}
		}
	}
	return nil, ""
}

// fromContract fills what the file left to the contract: without inputs,
// one per message the service receives, each expecting an output on every
// channel it sends on; without outputs, those channels; and each output
// on such a channel held to its messages.
func (w *Workload) fromContract() {
	if w.AsyncAPI == nil {
		return
	}
	if len(w.Outputs) == 0 {
		for _, op := range w.AsyncAPI.Outputs() {
			if w.output(op.Channel) == nil {
				w.Outputs = append(w.Outputs, Output{Topic: op.Channel, Group: DefaultGroup})
			}
		}
	}
	for i := range w.Outputs {
		for _, op := range w.AsyncAPI.Outputs() {
			if op.Channel == w.Outputs[i].Topic {
				w.Outputs[i].Contract = append(w.Outputs[i].Contract, op.Messages...)
			}
		}
	}
	if len(w.Inputs) > 0 {
		return
	}
	key, _ := parseTemplate("key", "{{ .Key }}")
	for _, op := range w.AsyncAPI.Inputs() {
		for i := range op.Messages {
			in := Input{Name: op.Messages[i].Name, Topic: op.Channel, Key: key, Message: &op.Messages[i], Step: AnyStep, Weight: 1}
			for _, out := range w.AsyncAPI.Outputs() {
				in.Expect = append(in.Expect, Expect{Topic: out.Channel, Within: DefaultWithin})
			}
			w.Inputs = append(w.Inputs, in)
		}
	}
}

// noPayload is the template of an input whose payload comes from its
// AsyncAPI message.
var noPayload = template.Must(parseTemplate("payload", ""))
