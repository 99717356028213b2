package experiment

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/blackbox"
	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// Limits of an experiment file.
const (
	maxSteps    = 1000
	maxDuration = 366 * 24 * time.Hour
)

type parser struct {
	file  string
	probs []yamlfile.Problem
}

func (p *parser) add(probs ...yamlfile.Problem) { p.probs = append(p.probs, probs...) }

func (p *parser) problem(n *yaml.Node, format string, args ...any) {
	p.add(yamlfile.Problemf(n, format, args...))
}

// ParseFile reads and parses the experiment file at path.
func ParseFile(path string) (*Experiment, error) {
	data, err := yamlfile.ReadFile(path, 0)
	if err != nil {
		return nil, &SpecError{File: path, Msg: "cannot read experiment file: " + err.Error()}
	}
	return Parse(path, data)
}

// Parse parses an experiment file's contents; file names it in errors
// (and is where a workload path is resolved from). A malformed file is
// one or more *SpecError joined.
func Parse(file string, data []byte) (*Experiment, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &SpecError{File: file, Msg: "not YAML: " + err.Error()}
	}
	if len(doc.Content) == 0 {
		return nil, &SpecError{File: file, Msg: "empty file: want an experiment (title, system or workload, steady-state, method)"}
	}
	p := &parser{file: file}
	x := p.experiment(doc.Content[0])
	if len(p.probs) == 0 {
		return x, nil
	}
	errs := make([]error, 0, len(p.probs))
	for _, pr := range p.probs {
		errs = append(errs, &SpecError{File: file, Line: pr.Node.Line, Column: pr.Node.Column, Msg: pr.Msg})
	}
	return nil, errors.Join(errs...)
}

var topKeys = []string{"title", "description", "system", "workload", "broker", "load", "steady-state", "method", "nemesis", "recovery"}

func (p *parser) experiment(n *yaml.Node) *Experiment {
	x := &Experiment{File: p.file, Load: blackbox.DefaultLoad(), Recovery: 30 * time.Second}
	fields, probs := yamlfile.Keys(n, "experiment", topKeys)
	p.add(probs...)
	for _, f := range fields {
		p.field(x, f)
	}
	if n.Kind != yaml.MappingNode {
		return x
	}
	switch {
	case x.Title == "":
		p.problem(n, "experiment: missing title")
	case (x.System == "") == (x.Workload == ""):
		p.problem(n, "experiment: give either system (a system edload knows) or workload (a black-box workload file)")
	case len(x.Method) == 0 && x.Nemesis == nil:
		p.problem(n, "experiment: give a method (faults at given times) or a nemesis (faults drawn from the seed)")
	case len(x.Method) > 0 && x.Nemesis != nil:
		p.problem(n, "experiment: give a method or a nemesis, not both")
	case x.Hypothesis == (Hypothesis{}):
		p.problem(n, "experiment: the steady-state gives no probe (min-throughput, max-e2e-p99 or max-in-flight)")
	}
	p.checkMethod(x, n)
	return x
}

func (p *parser) field(x *Experiment, f yamlfile.Field) {
	switch f.Key {
	case "title", "description", "system":
		s, probs := yamlfile.String(f.V, f.Key)
		p.add(probs...)
		switch f.Key {
		case "title":
			x.Title = s
		case "description":
			x.Description = s
		default:
			x.System = s
		}
	case "workload":
		s, probs := yamlfile.String(f.V, "workload")
		p.add(probs...)
		if s != "" && !filepath.IsAbs(s) {
			s = filepath.Join(filepath.Dir(p.file), s)
		}
		x.Workload = s
	case "broker":
		b, probs := blackbox.ParseBroker(f.V)
		x.Broker, x.BrokerSet = b, true
		p.add(probs...)
	case "load":
		l, probs := blackbox.ParseLoad(f.V, "load")
		x.Load, x.LoadSet = l, true
		p.add(probs...)
	case "steady-state":
		x.Hypothesis = p.hypothesis(f.V)
	case "method":
		x.Method = p.method(f.V)
	case "nemesis":
		x.Nemesis = p.nemesis(f.V)
	case "recovery":
		d, probs := yamlfile.Duration(f.V, "recovery", maxDuration)
		x.Recovery = d
		p.add(probs...)
	}
}

func (p *parser) hypothesis(n *yaml.Node) Hypothesis {
	var h Hypothesis
	fields, probs := yamlfile.Keys(n, "steady-state", []string{"min-throughput", "max-e2e-p99", "max-in-flight"})
	p.add(probs...)
	for _, f := range fields {
		switch f.Key {
		case "min-throughput":
			v, probs := yamlfile.Int(f.V, "steady-state.min-throughput", 1, 10_000_000)
			h.MinThroughput = float64(v)
			p.add(probs...)
		case "max-e2e-p99":
			d, probs := yamlfile.Duration(f.V, "steady-state.max-e2e-p99", time.Hour)
			h.MaxE2EP99 = d
			p.add(probs...)
		case "max-in-flight":
			v, probs := yamlfile.Int(f.V, "steady-state.max-in-flight", 1, 1<<31-1)
			h.MaxInFlight = int(v)
			p.add(probs...)
		}
	}
	return h
}

func (p *parser) method(n *yaml.Node) []Step {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 || len(n.Content) > maxSteps {
		p.problem(n, "method: expected a sequence of 1 to %d faults, got %s", maxSteps, yamlfile.Describe(n))
		return nil
	}
	out := make([]Step, 0, len(n.Content))
	for i, c := range n.Content {
		out = append(out, p.step(c, fmt.Sprintf("method[%d]", i)))
	}
	return out
}

func (p *parser) step(n *yaml.Node, what string) Step {
	s := Step{Hold: 5 * time.Second, Latency: 200 * time.Millisecond, KBps: 16, Rate: 0.1}
	fields, probs := yamlfile.Keys(n, what, []string{"fault", "at", "hold", "latency", "jitter", "kbps", "rate"})
	p.add(probs...)
	for _, f := range fields {
		w := what + "." + f.Key
		var probs []yamlfile.Problem
		switch f.Key {
		case "fault":
			s.Fault = p.faultName(f.V, w)
		case "at":
			s.At, probs = yamlfile.Duration(f.V, w, maxDuration)
		case "hold":
			s.Hold, probs = yamlfile.Duration(f.V, w, maxDuration)
		case "latency":
			s.Latency, probs = yamlfile.Duration(f.V, w, time.Minute)
		case "jitter":
			s.Jitter, probs = yamlfile.Duration(f.V, w, time.Minute)
		case "rate":
			s.Rate, probs = fraction(f.V, w)
		case "kbps":
			var v int64
			v, probs = yamlfile.Int(f.V, w, 1, 1<<30)
			s.KBps = int(v)
		}
		p.add(probs...)
	}
	if s.Fault == "" && n.Kind == yaml.MappingNode {
		p.problem(n, "%s: missing fault (one of %v)", what, Faults)
	}
	return s
}

func (p *parser) faultName(n *yaml.Node, what string) string {
	s, probs := yamlfile.String(n, what)
	p.add(probs...)
	if len(probs) == 0 && !slices.Contains(Faults, s) {
		p.problem(n, "%s: unknown fault %q (want one of %v)", what, s, Faults)
	}
	return s
}

func (p *parser) nemesis(n *yaml.Node) *Nemesis {
	nm := &Nemesis{Hold: [2]time.Duration{time.Second, 3 * time.Second}, Gap: [2]time.Duration{2 * time.Second, 5 * time.Second}}
	fields, probs := yamlfile.Keys(n, "nemesis", []string{"faults", "hold", "gap"})
	p.add(probs...)
	for _, f := range fields {
		switch f.Key {
		case "faults":
			if f.V.Kind != yaml.SequenceNode || len(f.V.Content) == 0 {
				p.problem(f.V, "nemesis.faults: expected a sequence of fault names, got %s", yamlfile.Describe(f.V))
				continue
			}
			for _, c := range f.V.Content {
				nm.Faults = append(nm.Faults, p.faultName(c, "nemesis.faults"))
			}
		case "hold", "gap":
			s, probs := yamlfile.String(f.V, "nemesis."+f.Key)
			p.add(probs...)
			lo, hi, err := chaos.ParseRange(s)
			if err != nil && len(probs) == 0 {
				p.problem(f.V, "nemesis.%s: %v", f.Key, err)
			}
			if f.Key == "hold" {
				nm.Hold = [2]time.Duration{lo, hi}
			} else {
				nm.Gap = [2]time.Duration{lo, hi}
			}
		}
	}
	if len(nm.Faults) == 0 && n.Kind == yaml.MappingNode {
		p.problem(n, "nemesis: missing faults")
	}
	return nm
}

// checkMethod: every step within the load, none overlapping (one fault at
// a time: recovery is measured from each heal), the network faults only
// on a proxied broker.
func (p *parser) checkMethod(x *Experiment, n *yaml.Node) {
	if len(p.probs) > 0 {
		return
	}
	var end time.Duration
	for i, s := range x.Method {
		switch {
		case s.At < end:
			p.problem(n, "method[%d]: %s at %s overlaps the fault before it (held until %s): one fault at a time", i, s.Fault, s.At, end)
		case x.LoadSet && s.At+s.Hold > x.Load.Duration:
			p.problem(n, "method[%d]: %s held until %s, past the load's %s", i, s.Fault, s.At+s.Hold, x.Load.Duration)
		}
		end = s.At + s.Hold
	}
	faults := slices.Clone(x.Nemesis.faultsOrNil())
	for _, s := range x.Method {
		faults = append(faults, s.Fault)
	}
	for _, f := range faults {
		if network(f) && !x.Broker.Proxied && x.BrokerSet {
			p.problem(n, "experiment: %s needs a proxied broker (broker: {proxied: true})", f)
			return
		}
	}
}

func (nm *Nemesis) faultsOrNil() []string {
	if nm == nil {
		return nil
	}
	return nm.Faults
}

func network(fault string) bool {
	return slices.Contains([]string{"partition", "one-way", "latency", "bandwidth", "reset-peer"}, fault)
}

// fraction reads a number in (0, 1].
func fraction(n *yaml.Node, what string) (float64, []yamlfile.Problem) {
	v, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || err != nil || !(v > 0 && v <= 1) {
		return 0.1, []yamlfile.Problem{yamlfile.Problemf(n, "%s: expected a fraction above 0 and at most 1, got %s", what, yamlfile.Describe(n))}
	}
	return v, nil
}
