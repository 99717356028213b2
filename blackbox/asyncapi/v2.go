package asyncapi

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/yamlfile"
)

var (
	v2ChannelKeys   = []string{"$ref", "description", "servers", "subscribe", "publish", "parameters", "bindings"}
	v2OperationKeys = []string{"operationId", "summary", "description", "security", "tags", "externalDocs", "bindings", "traits", "message"}
)

// v2 reads the operations of an AsyncAPI 2.x document: each channel's
// publish and subscribe, in file order.
func (p *parser) v2(d *Document, root object) {
	channels := root.get("channels")
	if channels == nil {
		p.problem(p.root, "missing channels: an AsyncAPI 2.x document describes its operations in channels")
		return
	}
	for _, f := range p.object(channels, "channels", nil).fields {
		what := "channels." + f.Key
		ch, _ := p.deref(f.V, what)
		if ch == nil {
			continue
		}
		for _, op := range p.object(ch, what, v2ChannelKeys).fields {
			switch op.Key {
			case "publish":
				d.Operations = append(d.Operations, p.v2Operation(f.Key, op, Receive))
			case "subscribe":
				d.Operations = append(d.Operations, p.v2Operation(f.Key, op, Send))
			}
		}
	}
}

// v2Operation reads a channel's publish (the application receives) or
// subscribe (the application sends).
func (p *parser) v2Operation(channel string, f yamlfile.Field, a Action) Operation {
	what := fmt.Sprintf("channels.%s.%s", channel, f.Key)
	op := Operation{ID: f.Key + ":" + channel, Action: a, Channel: channel, Line: f.K.Line, Column: f.K.Column}
	n, _ := p.deref(f.V, what)
	if n == nil {
		return op
	}
	o := p.object(n, what, v2OperationKeys)
	if id := o.get("operationId"); id != nil {
		op.ID = p.str(id, what+".operationId")
	}
	if mn := o.get("message"); mn != nil {
		op.Messages = p.v2Messages(mn, op.ID, what+".message")
	}
	return op
}

// v2Messages reads an operation's message: one, or several under oneOf.
func (p *parser) v2Messages(n *yaml.Node, opID, what string) []Message {
	t, ref := p.deref(n, what)
	if t == nil {
		return nil
	}
	alts := child(t, "oneOf")
	if alts == nil {
		return []Message{p.message(t, nameOr(ref, opID+"#0"), what, false)}
	}
	if alts.Kind != yaml.SequenceNode || len(alts.Content) == 0 {
		p.problem(alts, "%s.oneOf: expected a sequence of messages, got %s", what, yamlfile.Describe(alts))
		return nil
	}
	p.object(t, what, []string{"oneOf"})
	out := make([]Message, 0, len(alts.Content))
	for i, a := range alts.Content {
		w := fmt.Sprintf("%s.oneOf[%d]", what, i)
		if m, ref := p.deref(a, w); m != nil {
			out = append(out, p.message(m, nameOr(ref, fmt.Sprintf("%s#%d", opID, i)), w, false))
		}
	}
	return out
}

// nameOr names a message by the reference that led to it, else fallback.
func nameOr(ref, fallback string) string {
	if name := refName(ref); name != "" {
		return name
	}
	return fallback
}
