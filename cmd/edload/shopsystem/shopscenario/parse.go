package shopscenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/yamlfile"
	"github.com/edkit-dev/edkit/reference/shop"
)

// LoadFile reads and parses a scenario file. A file holds one scenario, or
// several separated by "---".
func LoadFile(path string) ([]*Scenario, error) {
	data, err := yamlfile.ReadFile(path, 0)
	if err != nil {
		return nil, &SpecError{File: path, Msg: fmt.Sprintf("cannot read scenario file: %v", err)}
	}
	return Parse(path, data)
}

// Parse parses the scenarios in data; name is the file name errors report.
// Every problem is a *SpecError naming file:line:column and what was
// expected there; several are joined with errors.Join. Parse never panics.
func Parse(name string, data []byte) ([]*Scenario, error) {
	p := &parser{file: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*Scenario
	for {
		var doc yaml.Node
		err := decodeSafely(dec, &doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.errs = append(p.errs, p.syntaxErr(err))
			break
		}
		if sc := p.document(&doc); sc != nil {
			out = append(out, sc)
		}
	}
	if len(p.errs) == 0 && len(out) == 0 {
		p.errs = append(p.errs, &SpecError{File: name, Line: 1, Column: 1, Msg: "no scenario in file (expected a mapping with name, when and then)"})
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	var errs []error
	for _, sc := range out {
		if err := sc.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// decodeSafely turns a panic inside the YAML library into an error, so a
// hostile file can never crash a test binary or the CLI.
func decodeSafely(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxErr converts the YAML library's error. It reports lines but not
// columns, so the column is 1.
func (p *parser) syntaxErr(err error) *SpecError {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &SpecError{File: p.file, Line: line, Column: 1, Msg: "invalid YAML: " + m[2]}
	}
	return &SpecError{File: p.file, Line: 1, Column: 1, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

type parser struct {
	file string
	errs []error
}

func (p *parser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Column: n.Column} }

func (p *parser) errf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, p.pos(n).err(format, args...))
}

// describe names a node's kind for "expected X, got Y" messages.
func describe(n *yaml.Node) string { return yamlfile.Describe(n) }

// fields walks a mapping, calling the handler for each known key and
// reporting unknown, duplicate and non-string keys. It returns false when n
// is not a mapping.
func (p *parser) fields(n *yaml.Node, what string, handlers map[string]func(k, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s: expected a mapping, got %s", what, describe(n))
		return false
	}
	known := make([]string, 0, len(handlers))
	for k := range handlers {
		known = append(known, k)
	}
	fields, probs := yamlfile.Keys(n, what, known)
	for _, pr := range probs {
		p.errf(pr.Node, "%s", pr.Msg)
	}
	for _, f := range fields {
		handlers[f.Key](f.K, f.V)
	}
	return true
}

func keyList(m map[string]func(k, v *yaml.Node)) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func (p *parser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.errf(n, "%s: expected a string, got %s", what, describe(n))
		return ""
	}
	return n.Value
}

func (p *parser) int64(n *yaml.Node, what string) int64 {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		p.errf(n, "%s: expected an integer, got %s", what, describe(n))
		return 0
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		p.errf(n, "%s: integer %s out of range", what, n.Value)
		return 0
	}
	return v
}

func (p *parser) int(n *yaml.Node, what string) int {
	v := p.int64(n, what)
	if v > math.MaxInt32 || v < math.MinInt32 {
		p.errf(n, "%s: integer %d out of range", what, v)
		return 0
	}
	return int(v)
}

func (p *parser) bool(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		p.errf(n, "%s: expected true or false, got %s", what, describe(n))
		return false
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		p.errf(n, "%s: expected true or false, got %s", what, describe(n))
	}
	return v
}

func (p *parser) seq(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "%s: expected a sequence, got %s", what, describe(n))
		return nil
	}
	var out []*yaml.Node
	for _, c := range n.Content {
		if c.Kind == yaml.AliasNode {
			p.errf(c, "%s: aliases are not supported", what)
			continue
		}
		out = append(out, c)
	}
	return out
}

func (p *parser) strList(n *yaml.Node, what string) []string {
	items := p.seq(n, what)
	out := make([]string, 0, len(items))
	for i, c := range items {
		out = append(out, p.str(c, fmt.Sprintf("%s[%d]", what, i)))
	}
	return out
}

func (p *parser) strMap(n *yaml.Node, what string) map[string]string {
	out := map[string]string{}
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s: expected a mapping of strings, got %s", what, describe(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := p.str(k, what+" key")
		if _, dup := out[key]; dup {
			p.errf(k, "%s: duplicate key %q", what, key)
		}
		out[key] = p.str(v, what+"."+key)
	}
	return out
}

func (p *parser) document(doc *yaml.Node) *Scenario {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	sc := &Scenario{Pos: p.pos(root)}
	sawWhen, sawThen := false, false
	ok := p.fields(root, "scenario", map[string]func(k, v *yaml.Node){
		"name":        func(_, v *yaml.Node) { sc.Name = p.str(v, "name") },
		"description": func(_, v *yaml.Node) { sc.Description = p.str(v, "description") },
		"timeout": func(_, v *yaml.Node) {
			s := p.str(v, "timeout")
			if s == "" {
				return
			}
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				p.errf(v, "timeout: expected a positive duration such as 5s, got %q", s)
				return
			}
			sc.Timeout = d
		},
		"setup": func(_, v *yaml.Node) { sc.Setup = p.setup(v) },
		"given": func(_, v *yaml.Node) { sc.Given = p.steps(v, "given") },
		"when":  func(_, v *yaml.Node) { sawWhen = true; sc.When = p.steps(v, "when") },
		"then":  func(_, v *yaml.Node) { sawThen = true; sc.Then = p.expectations(v) },
	})
	if !ok {
		return nil
	}
	if sc.Name == "" && !hasKey(root, "name") {
		p.errf(root, "scenario: missing required field name")
	}
	if !sawWhen {
		p.errf(root, "scenario: missing required field when")
	}
	if !sawThen {
		p.errf(root, "scenario: missing required field then")
	}
	return sc
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (p *parser) setup(n *yaml.Node) Setup {
	var st Setup
	p.fields(n, "setup", map[string]func(k, v *yaml.Node){
		"stock": func(_, v *yaml.Node) {
			st.Stock = map[string]int{}
			if v.Kind != yaml.MappingNode {
				p.errf(v, "setup.stock: expected a mapping of sku to quantity, got %s", describe(v))
				return
			}
			for i := 0; i+1 < len(v.Content); i += 2 {
				sku := p.str(v.Content[i], "setup.stock key")
				if _, dup := st.Stock[sku]; dup {
					p.errf(v.Content[i], "setup.stock: duplicate sku %q", sku)
				}
				st.Stock[sku] = p.int(v.Content[i+1], "setup.stock."+sku)
			}
		},
		"declined":    func(_, v *yaml.Node) { st.Declined = p.strList(v, "setup.declined") },
		"limitCents":  func(_, v *yaml.Node) { st.LimitCents = p.int64(v, "setup.limitCents") },
		"maxAttempts": func(_, v *yaml.Node) { st.MaxAttempts = p.int(v, "setup.maxAttempts") },
		"dedup":       func(_, v *yaml.Node) { st.Dedup = p.bool(v, "setup.dedup") },
	})
	return st
}

func (p *parser) steps(n *yaml.Node, what string) []Step {
	items := p.seq(n, what)
	out := make([]Step, 0, len(items))
	for i, c := range items {
		out = append(out, p.step(c, fmt.Sprintf("%s[%d]", what, i)))
	}
	return out
}

func (p *parser) step(n *yaml.Node, what string) Step {
	s := Step{Pos: p.pos(n), fields: map[string]Pos{}}
	var id string
	var idNode, timesNode *yaml.Node
	times := 0
	p.fields(n, what, map[string]func(k, v *yaml.Node){
		"id":    func(_, v *yaml.Node) { idNode = v; id = p.str(v, what+".id") },
		"times": func(_, v *yaml.Node) { timesNode = v; times = p.int(v, what+".times"); s.fields["times"] = p.pos(v) },
		"command": func(_, v *yaml.Node) {
			s.fields["command"] = p.pos(v)
			c := p.command(v, what+".command", s.fields)
			s.Command = &CommandStep{Command: c}
		},
		"event": func(_, v *yaml.Node) {
			s.fields["event"] = p.pos(v)
			s.Event = p.event(v, what+".event", s.fields)
		},
		"poison": func(_, v *yaml.Node) {
			s.fields["poison"] = p.pos(v)
			s.Poison = p.poison(v, what+".poison")
		},
	})
	if s.Command != nil {
		s.Command.ID, s.Command.Times = id, times
	} else {
		for _, x := range []*yaml.Node{idNode, timesNode} {
			if x != nil {
				p.errf(x, "%s: id and times belong to command steps (event and poison carry their own id)", what)
				break
			}
		}
	}
	return s
}

func (p *parser) command(n *yaml.Node, what string, pos map[string]Pos) shop.Command {
	var c shop.Command
	p.fields(n, what, map[string]func(k, v *yaml.Node){
		"type": func(_, v *yaml.Node) {
			pos["command.type"] = p.pos(v)
			c.Type = p.str(v, what+".type")
		},
		"orderId":     func(_, v *yaml.Node) { c.OrderID = p.str(v, what+".orderId") },
		"customer":    func(_, v *yaml.Node) { c.Customer = p.str(v, what+".customer") },
		"amountCents": func(_, v *yaml.Node) { c.AmountCents = p.int64(v, what+".amountCents") },
		"reason":      func(_, v *yaml.Node) { c.Reason = p.str(v, what+".reason") },
		"items": func(_, v *yaml.Node) {
			for i, it := range p.seq(v, what+".items") {
				var item shop.Item
				w := fmt.Sprintf("%s.items[%d]", what, i)
				p.fields(it, w, map[string]func(k, v *yaml.Node){
					"sku": func(_, v *yaml.Node) { item.SKU = p.str(v, w+".sku") },
					"qty": func(_, v *yaml.Node) { item.Qty = p.int(v, w+".qty") },
				})
				c.Items = append(c.Items, item)
			}
		},
	})
	return c
}

func (p *parser) event(n *yaml.Node, what string, pos map[string]Pos) *EventStep {
	e := &EventStep{}
	p.fields(n, what, map[string]func(k, v *yaml.Node){
		"id":       func(_, v *yaml.Node) { e.ID = p.str(v, what+".id") },
		"stream":   func(_, v *yaml.Node) { e.Stream = p.str(v, what+".stream") },
		"type":     func(_, v *yaml.Node) { e.Type = p.str(v, what+".type") },
		"metadata": func(_, v *yaml.Node) { e.Metadata = p.strMap(v, what+".metadata") },
		"data": func(_, v *yaml.Node) {
			pos["event.data"] = p.pos(v)
			val, ok := p.jsonValue(v, what+".data", 0)
			if !ok {
				return
			}
			b, err := json.Marshal(val)
			if err != nil {
				p.errf(v, "%s.data: cannot encode as JSON: %v", what, err)
				return
			}
			e.Data = b
		},
	})
	return e
}

// maxDepth bounds nesting in event data so a hostile file cannot exhaust
// the stack.
const maxDepth = 64

// jsonValue converts a YAML node to a value encoding/json can marshal.
func (p *parser) jsonValue(n *yaml.Node, what string, depth int) (any, bool) {
	if depth > maxDepth {
		p.errf(n, "%s: nested deeper than %d levels", what, maxDepth)
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				p.errf(k, "%s: expected a scalar key, got %s", what, describe(k))
				ok = false
				continue
			}
			val, vok := p.jsonValue(v, what+"."+k.Value, depth+1)
			ok = ok && vok
			m[k.Value] = val
		}
		return m, ok
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			val, vok := p.jsonValue(c, fmt.Sprintf("%s[%d]", what, i), depth+1)
			ok = ok && vok
			out = append(out, val)
		}
		return out, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				p.errf(n, "%s: bad boolean %s", what, describe(n))
				return nil, false
			}
			return b, true
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				p.errf(n, "%s: integer %s out of range", what, n.Value)
				return nil, false
			}
			return i, true
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				p.errf(n, "%s: %s is not a finite number", what, n.Value)
				return nil, false
			}
			return f, true
		}
		return n.Value, true
	}
	p.errf(n, "%s: aliases are not supported", what)
	return nil, false
}

func (p *parser) poison(n *yaml.Node, what string) *PoisonStep {
	ps := &PoisonStep{}
	p.fields(n, what, map[string]func(k, v *yaml.Node){
		"id":      func(_, v *yaml.Node) { ps.ID = p.str(v, what+".id") },
		"topic":   func(_, v *yaml.Node) { ps.Topic = p.str(v, what+".topic") },
		"key":     func(_, v *yaml.Node) { ps.Key = p.str(v, what+".key") },
		"payload": func(_, v *yaml.Node) { ps.Payload = p.str(v, what+".payload") },
		"headers": func(_, v *yaml.Node) { ps.Headers = p.strMap(v, what+".headers") },
	})
	return ps
}

func (p *parser) expectations(n *yaml.Node) []Expectation {
	items := p.seq(n, "then")
	out := make([]Expectation, 0, len(items))
	for i, c := range items {
		out = append(out, p.expectation(c, fmt.Sprintf("then[%d]", i)))
	}
	return out
}

func (p *parser) expectation(n *yaml.Node, what string) Expectation {
	e := Expectation{Pos: p.pos(n), fields: map[string]Pos{}}
	mark := func(kind string, _, v *yaml.Node) { e.fields[kind] = p.pos(v) }
	sub := func(kind string, v *yaml.Node, h map[string]func(k, v *yaml.Node), required ...string) {
		for name, f := range h {
			field := kind + "." + name
			h[name] = func(k, v *yaml.Node) { e.fields[field] = p.pos(v); f(k, v) }
		}
		if !p.fields(v, what+"."+kind, h) {
			return
		}
		for _, r := range required {
			if !hasKey(v, r) {
				p.errf(v, "%s.%s: missing required field %s", what, kind, r)
			}
		}
	}
	w := what + "."
	p.fields(n, what, map[string]func(k, v *yaml.Node){
		"order": func(k, v *yaml.Node) {
			mark("order", k, v)
			x := &OrderExpectation{}
			sub("order", v, map[string]func(k, v *yaml.Node){
				"id":     func(_, v *yaml.Node) { x.ID = p.str(v, w+"order.id") },
				"status": func(_, v *yaml.Node) { x.Status = p.str(v, w+"order.status") },
			}, "id", "status")
			e.Order = x
		},
		"events": func(k, v *yaml.Node) {
			mark("events", k, v)
			x := &EventsExpectation{Types: []string{}}
			sub("events", v, map[string]func(k, v *yaml.Node){
				"stream": func(_, v *yaml.Node) { x.Stream = p.str(v, w+"events.stream") },
				"types":  func(_, v *yaml.Node) { x.Types = p.strList(v, w+"events.types") },
			}, "stream", "types")
			e.Events = x
		},
		"commands": func(k, v *yaml.Node) {
			mark("commands", k, v)
			x := &CommandsExpectation{Sequence: []string{}}
			sub("commands", v, map[string]func(k, v *yaml.Node){
				"order":    func(_, v *yaml.Node) { x.Order = p.str(v, w+"commands.order") },
				"sequence": func(_, v *yaml.Node) { x.Sequence = p.strList(v, w+"commands.sequence") },
			}, "order", "sequence")
			e.Commands = x
		},
		"charges": func(k, v *yaml.Node) {
			mark("charges", k, v)
			x := &ChargesExpectation{}
			sub("charges", v, map[string]func(k, v *yaml.Node){
				"order": func(_, v *yaml.Node) { x.Order = p.str(v, w+"charges.order") },
				"count": func(_, v *yaml.Node) { x.Count = p.int(v, w+"charges.count") },
			}, "order", "count")
			e.Charges = x
		},
		"stock": func(k, v *yaml.Node) {
			mark("stock", k, v)
			x := &StockExpectation{}
			sub("stock", v, map[string]func(k, v *yaml.Node){
				"sku":    func(_, v *yaml.Node) { x.SKU = p.str(v, w+"stock.sku") },
				"onHand": func(_, v *yaml.Node) { x.OnHand = p.int(v, w+"stock.onHand") },
			}, "sku", "onHand")
			e.Stock = x
		},
		"dlq": func(k, v *yaml.Node) {
			mark("dlq", k, v)
			x := &DLQExpectation{}
			sub("dlq", v, map[string]func(k, v *yaml.Node){
				"id":             func(_, v *yaml.Node) { x.ID = p.str(v, w+"dlq.id") },
				"attempts":       func(_, v *yaml.Node) { x.Attempts = p.int(v, w+"dlq.attempts") },
				"reasonContains": func(_, v *yaml.Node) { x.ReasonContains = p.str(v, w+"dlq.reasonContains") },
			}, "id")
			e.DLQ = x
		},
		"orders": func(k, v *yaml.Node) {
			mark("orders", k, v)
			x := &OrdersExpectation{}
			sub("orders", v, map[string]func(k, v *yaml.Node){
				"count": func(_, v *yaml.Node) { x.Count = p.int(v, w+"orders.count") },
			}, "count")
			e.Orders = x
		},
	})
	return e
}
