package asyncapi

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/yamlfile"
)

var (
	v3OperationKeys = []string{"action", "channel", "title", "summary", "description", "security", "tags", "externalDocs", "bindings", "traits", "messages", "reply"}
	v3ChannelKeys   = []string{"address", "messages", "title", "summary", "description", "servers", "parameters", "tags", "externalDocs", "bindings"}
)

// v3 reads the operations of an AsyncAPI 3.0 document, in file order.
func (p *parser) v3(d *Document, root object) {
	ops := root.get("operations")
	if ops == nil {
		p.problem(p.root, "missing operations: an AsyncAPI 3.0 document says what the application sends and receives in operations")
		return
	}
	for _, f := range p.object(ops, "operations", nil).fields {
		d.Operations = append(d.Operations, p.v3Operation(f))
	}
}

func (p *parser) v3Operation(f yamlfile.Field) Operation {
	what := "operations." + f.Key
	op := Operation{ID: f.Key, Line: f.K.Line, Column: f.K.Column}
	n, _ := p.deref(f.V, what)
	if n == nil {
		return op
	}
	o := p.object(n, what, v3OperationKeys)
	op.Action = p.action(o.get("action"), n, what)
	cn := o.get("channel")
	if cn == nil {
		p.problem(n, "%s: missing channel (want channel: {$ref: '#/channels/...'})", what)
		return op
	}
	ch, ref := p.deref(cn, what+".channel")
	if ch == nil {
		return op
	}
	chObj := p.object(ch, what+".channel", v3ChannelKeys)
	op.Channel = p.address(chObj, ch, refName(ref), what+".channel")
	if mn := o.get("messages"); mn != nil {
		op.Messages = p.v3OperationMessages(mn, op.ID, what+".messages")
	} else if mn := chObj.get("messages"); mn != nil {
		op.Messages = p.v3ChannelMessages(mn, what+".channel.messages")
	}
	return op
}

func (p *parser) action(n, op *yaml.Node, what string) Action {
	switch {
	case n == nil:
		p.problem(op, "%s: missing action (want send or receive)", what)
	case n.Kind == yaml.ScalarNode && n.Value == string(Send):
		return Send
	case n.Kind == yaml.ScalarNode && n.Value == string(Receive):
		return Receive
	default:
		p.problem(n, "%s.action: expected send or receive, got %s", what, yamlfile.Describe(n))
	}
	return ""
}

// address is a channel's address, else its key in channels.
func (p *parser) address(o object, ch *yaml.Node, key, what string) string {
	if a := o.get("address"); a != nil && a.ShortTag() != "!!null" {
		return p.str(a, what+".address")
	}
	if key == "" {
		p.problem(ch, "%s: the channel has no address and no key to stand for one (refer to it: channel: {$ref: '#/channels/...'})", what)
	}
	return key
}

// v3OperationMessages reads an operation's messages: references to
// messages of its channel.
func (p *parser) v3OperationMessages(n *yaml.Node, opID, what string) []Message {
	if n.Kind != yaml.SequenceNode {
		p.problem(n, "%s: expected a sequence of message references, got %s", what, yamlfile.Describe(n))
		return nil
	}
	out := make([]Message, 0, len(n.Content))
	for i, item := range n.Content {
		w := fmt.Sprintf("%s[%d]", what, i)
		if m, ref := p.deref(item, w); m != nil {
			out = append(out, p.message(m, nameOr(ref, fmt.Sprintf("%s#%d", opID, i)), w, true))
		}
	}
	return out
}

// v3ChannelMessages reads a channel's messages, each named by its key: an
// operation that lists none carries them all.
func (p *parser) v3ChannelMessages(n *yaml.Node, what string) []Message {
	fields := p.object(n, what, nil).fields
	out := make([]Message, 0, len(fields))
	for _, f := range fields {
		w := what + "." + f.Key
		if m, _ := p.deref(f.V, w); m != nil {
			out = append(out, p.message(m, f.Key, w, true))
		}
	}
	return out
}
