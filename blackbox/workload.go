package blackbox

import (
	"fmt"
	"text/template"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/blackbox/asyncapi"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/scenarios/match"
)

// Workload is one parsed workload file: the broker, the service (when edkit
// starts it), the load, the inputs edkit publishes and the outputs it
// watches, and what must hold between them. Every template is compiled and
// rendered once with a sample operation, so a parsed Workload runs.
type Workload struct {
	File, Name, Description string
	Broker                  harness.Broker
	// Service, when set, is started and owned by edkit once the broker is
	// up; left nil, the service runs on its own and edkit only talks to
	// the broker.
	Service     *Service
	Load        Load
	Correlation Correlation
	Inputs      []Input
	Outputs     []Output
	// Duplicates says duplicated outputs are permitted (reported, not
	// failed): a service with at-least-once output and no deduplication.
	Duplicates bool
	// SLO holds the run to latency objectives ("e2e.p99<500ms": e2e is
	// intended send → first correlated output).
	SLO harness.SLO
	// AsyncAPI is the service's contract, when the file names one: inputs
	// may be its messages (payloads generated from their schemas), and
	// every output on a channel it sends on must meet one of the
	// channel's message schemas.
	AsyncAPI *asyncapi.Document
}

// Service is the process edkit starts as the system under test. Each
// element of Command and each Env value is a template with a
// ServiceVars dot: --addr={{ .Broker.Addrs }}.
type Service struct {
	Command []*template.Template
	// Source is the command as the file writes it, for the report.
	Source       []string
	Env          map[string]*template.Template
	Dir          string
	Ready        string
	ReadyTimeout time.Duration
}

// ServiceVars is the dot of a service's templates.
type ServiceVars struct {
	Broker BrokerVars
}

// BrokerVars is how the service reaches the run's broker.
type BrokerVars struct {
	Kind string
	// Addrs are host:port pairs, comma-separated (Kafka, Redis); URL the
	// client URL (RabbitMQ, NATS).
	Addrs, URL string
}

// Load is the open-loop load, as the run flags spell it.
type Load struct {
	Rate         string // loadgen.ParseRate: "200", "ramp:10..200/30s"
	Duration     time.Duration
	Count        uint64
	Keys         int
	Distribution string // loadgen.ParseKeys: "uniform", "seq:4"
	Workers      int
	Seed         int64
	WarmUp       time.Duration
}

// Correlation ties an output to the input it answers: by a header edkit
// sets on each input and the service copies onto its outputs, or by JSON
// pointers into the input's and the output's payloads.
type Correlation struct {
	Header        string
	Input, Output string // JSON pointers
}

// AnyStep marks an input chosen at any step.
const AnyStep = -1

// Input is one kind of message edkit publishes.
type Input struct {
	Name, Topic string
	Key         *template.Template
	Payload     *template.Template
	Headers     map[string]*template.Template
	// Step chooses the input at that step of a sequence key distribution
	// (seq:N); AnyStep inputs are chosen by Weight among themselves.
	Step   int
	Weight int
	// Schema, when set, validates each rendered payload before it is sent:
	// a workload that sends what the service's contract refuses is the
	// workload's bug, reported as such.
	Schema *jsonschema.Schema
	Expect []Expect
	// Message, when set, is the AsyncAPI message the payloads are drawn
	// from (Payload is then unused).
	Message *asyncapi.Message

	node *yaml.Node // where the file declares it, for problems found later
}

// Expect is one output an input must cause.
type Expect struct {
	Topic  string
	Within time.Duration
	Match  *match.Match

	node *yaml.Node
}

// Output is a topic edkit watches with a consumer group of its own.
type Output struct {
	Topic, Group string
	// Order says outputs for one key must come in the order their inputs
	// were published.
	Order bool
	// Contract are the AsyncAPI messages an output here must meet one of
	// (every output, not only the first per input).
	Contract []asyncapi.Message
}

// DefaultGroup is the tap's consumer group when an output names none.
const DefaultGroup = "edkit-tap"

// DefaultWithin is how long an input waits for an expected output when the
// expectation sets no time.
const DefaultWithin = 10 * time.Second

// Topics are the workload's input and output topics, each once.
func (w *Workload) Topics() []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, in := range w.Inputs {
		add(in.Topic)
	}
	for _, o := range w.Outputs {
		add(o.Topic)
	}
	return out
}

// output is the declared output on topic, nil when none.
func (w *Workload) output(topic string) *Output {
	for i := range w.Outputs {
		if w.Outputs[i].Topic == topic {
			return &w.Outputs[i]
		}
	}
	return nil
}

// longestWithin is the longest any input waits for an output.
func (w *Workload) longestWithin() time.Duration {
	var d time.Duration
	for _, in := range w.Inputs {
		for _, e := range in.Expect {
			d = max(d, e.Within)
		}
	}
	return d
}

// SpecError is one problem in a workload file, at file:line:column.
type SpecError struct {
	File         string
	Line, Column int
	Msg          string
}

// Error renders file:line:column: msg.
func (e *SpecError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return e.File + ": " + e.Msg
}
