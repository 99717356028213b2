package blackbox

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/loadgen"
)

// crossCheck finds what no single field shows: expectations on topics no
// output watches, a topic both input and output, steps a distribution
// never reaches, and templates that fail on a sample operation.
func (p *parser) crossCheck(w *Workload, n *yaml.Node) {
	if len(p.probs) > 0 {
		return // the file's own problems first: a cross-check on half a workload misleads
	}
	p.checkTopics(w)
	p.checkSteps(w, n)
	mem := NewMemory()
	for i := range w.Inputs {
		p.sample(w, &w.Inputs[i], mem)
	}
}

func (p *parser) checkTopics(w *Workload) {
	for _, in := range w.Inputs {
		if w.output(in.Topic) != nil {
			p.problem(in.node, "inputs: %q is both an input and an output topic: edkit's tap would take its own inputs for outputs", in.Topic)
		}
		for _, e := range in.Expect {
			if w.output(e.Topic) == nil {
				p.problem(e.node, "expect: topic %q is not among the outputs edkit watches (add it to outputs)", e.Topic)
			}
		}
		if h := w.Correlation.Header; h != "" && in.Headers[h] != nil {
			p.problem(in.node, "headers: %q is the correlation header, which edkit sets on each input itself", h)
		}
	}
}

// checkSteps: inputs with a step need a sequence distribution reaching
// it, and every step needs an input.
func (p *parser) checkSteps(w *Workload, n *yaml.Node) {
	spec, err := loadgen.ParseKeys(w.Load.Distribution)
	if err != nil {
		return
	}
	anyStep := false
	steps := map[int]bool{}
	for _, in := range w.Inputs {
		if in.Step == AnyStep {
			anyStep = true
			continue
		}
		steps[in.Step] = true
		switch {
		case spec.Dist != loadgen.KeysSeq:
			p.problem(in.node, "step: inputs with a step need a sequence key distribution (load.distribution: seq:N), not %s", spec)
		case in.Step >= spec.SeqLen:
			p.problem(in.node, "step: %d is never reached by %s (steps 0 to %d)", in.Step, spec, spec.SeqLen-1)
		}
	}
	if anyStep || len(p.probs) > 0 {
		return
	}
	var missing []string
	for s := range max(spec.SeqLen, 1) {
		if !steps[s] {
			missing = append(missing, fmt.Sprint(s))
		}
	}
	if len(missing) > 0 {
		p.problem(n, "inputs: no input for step %s of %s (give one, or one without a step)", strings.Join(missing, ", "), spec)
	}
}

// sample renders an input for a first operation, so a template that fails
// on every operation (a wrong method, a bad argument, a payload the
// input's schema refuses, no correlation value) is a problem in the file,
// not a run of send errors.
func (p *parser) sample(w *Workload, in *Input, mem *Memory) {
	step := max(in.Step, 0)
	v := newVars(in.Name, w.Load.Seed, 0, "key-0", 1, step, time.Unix(0, 0), mem)
	msg, err := in.render(v, w.Correlation)
	if err != nil {
		p.problem(in.node, "input %q, rendered for a first operation: %v", in.Name, err)
		return
	}
	_ = msg
}
