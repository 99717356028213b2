package scenarios

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/yamlfile"
	"github.com/edkit-dev/edkit/scenarios/match"
)

// maxEntries bounds the steps and expectations of one file.
const maxEntries = 1000

func (p *parser) seq(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.problem(n, "%s: expected a sequence, got %s", what, yamlfile.Describe(n))
		return nil
	}
	if len(n.Content) > maxEntries {
		p.problem(n, "%s: %d entries, want at most %d", what, len(n.Content), maxEntries)
		return nil
	}
	return n.Content
}

var stepKeys = []string{"command", "event", "message", "elapse", "id", "with", "times", "stream", "metadata", "topic", "key", "headers", "payload"}

// steps parses a given or when list.
func (p *parser) steps(n *yaml.Node, what string) []Step {
	var out []Step
	for i, c := range p.seq(n, what) {
		where := fmt.Sprintf("%s[%d]", what, i)
		fields, probs := yamlfile.Keys(c, where, stepKeys)
		p.add(probs...)
		s := Step{Line: c.Line, Column: c.Column, Times: 1}
		f := map[string]yamlfile.Field{}
		for _, fl := range fields {
			f[fl.Key] = fl
		}
		kinds := 0
		for _, k := range []string{"command", "event", "message", "elapse"} {
			if _, ok := f[k]; ok {
				kinds++
			}
		}
		if c.Kind != yaml.MappingNode {
			continue // Keys said so
		}
		if kinds != 1 {
			p.problem(c, "%s: want exactly one of command, event, message, elapse", where)
			continue
		}
		p.step(&s, f, where)
		out = append(out, s)
	}
	return out
}

// allowed reports keys of f that the step's kind does not take.
func (p *parser) allowed(f map[string]yamlfile.Field, where string, ok ...string) {
	for k, fl := range f {
		if !strings.Contains(" "+strings.Join(ok, " ")+" ", " "+k+" ") {
			p.problem(fl.K, "%s: %q does not apply here (want %s)", where, k, strings.Join(ok, ", "))
		}
	}
}

func (p *parser) step(s *Step, f map[string]yamlfile.Field, where string) {
	opt := func(k string) string {
		if fl, ok := f[k]; ok {
			return p.str(fl.V, where+"."+k)
		}
		return ""
	}
	switch {
	case f["elapse"].V != nil:
		p.allowed(f, where, "elapse")
		s.Elapse = p.duration(f["elapse"].V, where+".elapse")
	case f["command"].V != nil:
		p.allowed(f, where, "command", "id", "with", "times")
		s.Kind, s.Type, s.ID = KindCommand, p.str(f["command"].V, where+".command"), opt("id")
		if fl, ok := f["times"]; ok {
			s.Times = p.count(fl.V, where+".times")
		}
		s.Value, s.Data = p.typed(KindCommand, s.Type, f, where)
	case f["event"].V != nil:
		p.allowed(f, where, "event", "id", "with", "stream", "metadata")
		s.Kind, s.Type, s.ID, s.Stream = KindEvent, p.str(f["event"].V, where+".event"), opt("id"), opt("stream")
		if s.Stream == "" {
			p.problem(f["event"].K, "%s: an event needs its stream", where)
		}
		if fl, ok := f["metadata"]; ok {
			s.Metadata = p.strMap(fl.V, where+".metadata")
		}
		s.Value, s.Data = p.typed(KindEvent, s.Type, f, where)
	default:
		p.message(s, f, where, opt)
	}
}

// message parses a raw publish: a registered type with `with:`, or any
// bytes with `payload:` (a poison message).
func (p *parser) message(s *Step, f map[string]yamlfile.Field, where string, opt func(string) string) {
	p.allowed(f, where, "message", "id", "with", "payload", "topic", "key", "headers")
	s.Kind, s.Type, s.ID, s.Topic, s.Key = KindMessage, p.str(f["message"].V, where+".message"), opt("id"), opt("topic"), opt("key")
	if s.Topic == "" {
		p.problem(f["message"].K, "%s: a message needs its topic", where)
	}
	if fl, ok := f["headers"]; ok {
		s.Headers = p.strMap(fl.V, where+".headers")
	}
	_, hasWith := f["with"]
	if fl, ok := f["payload"]; ok {
		if hasWith {
			p.problem(fl.K, "%s: give with (a registered type's fields) or payload (raw bytes), not both", where)
		}
		s.Data = []byte(p.str(fl.V, where+".payload"))
		return
	}
	s.Value, s.Data = p.typed(KindMessage, s.Type, f, where)
}

// typed decodes the step's `with:` into its registered type.
func (p *parser) typed(k Kind, name string, f map[string]yamlfile.Field, where string) (any, []byte) {
	if name == "" {
		return nil, nil // the type's own problem is reported
	}
	v, err := p.vocab.lookup(k, name)
	if err != nil {
		p.problem(f[string(k)].V, "%s: %v", where, err)
		return nil, nil
	}
	fl, ok := f["with"]
	if !ok {
		return v, []byte("{}")
	}
	return v, p.decode(fl.V, where+".with", v)
}

var thenKeys = []string{"events", "event", "messages", "view", "dead-letter", "invariant"}

func (p *parser) expectations(n *yaml.Node) []Expectation {
	var out []Expectation
	for i, c := range p.seq(n, "then") {
		where := fmt.Sprintf("then[%d]", i)
		fields, probs := yamlfile.Keys(c, where, thenKeys)
		p.add(probs...)
		if len(fields) != 1 {
			if len(probs) == 0 {
				p.problem(c, "%s: want exactly one of %s", where, strings.Join(thenKeys, ", "))
			}
			continue
		}
		f := fields[0]
		e := Expectation{Line: c.Line, Column: c.Column}
		p.expectation(&e, f, where+"."+f.Key)
		out = append(out, e)
	}
	return out
}

func (p *parser) expectation(e *Expectation, f yamlfile.Field, where string) {
	if f.Key == "invariant" {
		e.Invariant = p.str(f.V, where)
		e.Text = "invariant " + e.Invariant + " held"
		return
	}
	fields, probs := yamlfile.Keys(f.V, where, expectKeys[f.Key])
	p.add(probs...)
	g := map[string]*yaml.Node{}
	for _, fl := range fields {
		g[fl.Key] = fl.V
	}
	s := func(k string) string {
		if n, ok := g[k]; ok {
			return p.str(n, where+"."+k)
		}
		if requiredKeys[f.Key][k] && f.V.Kind == yaml.MappingNode {
			p.problem(f.V, "%s: missing %q", where, k)
		}
		return ""
	}
	m := func() *match.Match {
		n, ok := g["match"]
		if !ok {
			return nil
		}
		mt, probs := match.Parse(n, where+".match")
		p.add(probs...)
		return mt
	}
	switch f.Key {
	case "events":
		x := &EventsExpectation{Stream: s("stream")}
		if n, ok := g["types"]; ok {
			x.Types = p.strs(n, where+".types")
		}
		e.Events, e.Text = x, fmt.Sprintf("stream %s holds [%s]", x.Stream, strings.Join(x.Types, ", "))
	case "event":
		x := &EventExpectation{Stream: s("stream"), Type: s("type"), Match: m()}
		if n, ok := g["count"]; ok {
			x.Count = p.count(n, where+".count")
		}
		e.Event, e.Text = x, fmt.Sprintf("stream %s has %s%s", x.Stream, x.Type, matchText(x.Match))
	case "messages":
		x := &MessagesExpectation{Topic: s("topic"), Key: s("key")}
		if n, ok := g["types"]; ok {
			x.Types = p.strs(n, where+".types")
		}
		e.Messages, e.Text = x, fmt.Sprintf("topic %s%s carried [%s]", x.Topic, keyText(x.Key), strings.Join(x.Types, ", "))
	case "view":
		x := &ViewExpectation{Name: s("name"), ID: s("id"), Match: m()}
		if n, ok := g["absent"]; ok {
			x.Absent = p.boolean(n, where+".absent")
		}
		e.View, e.Text = x, fmt.Sprintf("view %s/%s%s", x.Name, x.ID, matchText(x.Match))
		if x.Absent {
			e.Text = fmt.Sprintf("view %s has no %s", x.Name, x.ID)
		}
	case "dead-letter":
		x := &DeadLetterExpectation{ID: s("id"), Reason: s("reason")}
		if n, ok := g["attempts"]; ok {
			x.Attempts = p.count(n, where+".attempts")
		}
		e.DeadLetter, e.Text = x, fmt.Sprintf("message %s dead-lettered", x.ID)
	}
}

// requiredKeys are the keys each expectation cannot do without.
var requiredKeys = map[string]map[string]bool{
	"events": {"stream": true}, "event": {"stream": true, "type": true}, "messages": {"topic": true},
	"view": {"name": true, "id": true}, "dead-letter": {"id": true},
}

// expectKeys are each expectation's keys.
var expectKeys = map[string][]string{
	"events":      {"stream", "types"},
	"event":       {"stream", "type", "match", "count"},
	"messages":    {"topic", "key", "types"},
	"view":        {"name", "id", "match", "absent"},
	"dead-letter": {"id", "attempts", "reason"},
}

func matchText(m *match.Match) string {
	if m == nil {
		return ""
	}
	return " " + m.String()
}

func keyText(k string) string {
	if k == "" {
		return ""
	}
	return " key " + k
}
