package asyncapi

import "github.com/santhosh-tekuri/jsonschema/v6"

// Document is what edkit takes from an AsyncAPI document.
type Document struct {
	File     string // as given to Parse
	AsyncAPI string // the specification's version: "2.6.0", "3.0.0"
	Title    string // info.title
	Version  string // info.version: the API's own version
	// Operations in file order: 2.x channels and, in each, publish and
	// subscribe as written; 3.0 operations.
	Operations []Operation
}

// Action is what the application does with a channel's messages.
type Action string

// The actions, from the application's point of view.
const (
	// Receive: the application receives on the channel, so edkit sends
	// (an input). AsyncAPI 2.x calls it publish: others publish to the
	// application.
	Receive Action = "receive"
	// Send: the application sends on the channel, so edkit watches and
	// validates (an output). AsyncAPI 2.x calls it subscribe.
	Send Action = "send"
)

// Operation is one thing the application does on one channel.
type Operation struct {
	// ID is the operationId (2.x; "publish:<channel>" or
	// "subscribe:<channel>" without one) or the operation's key (3.0).
	ID     string
	Action Action
	// Channel is the topic: the channel's key in 2.x; in 3.0 its address,
	// or its key when the address is absent or null.
	Channel string
	// Messages the operation carries; none means any payload.
	Messages []Message
	// Line and Column place the operation in the file.
	Line, Column int
}

// Message is one kind of payload on a channel.
type Message struct {
	// Name is the message's name field, else its messageId (2.x), else
	// the key its reference names (components/messages/X, a 3.0 channel's
	// messages key), else "<operation id>#<index>".
	Name string
	// ContentType is the message's, else the document's default, else
	// application/json; always a JSON media type.
	ContentType string
	// Schema is the compiled payload schema; SchemaJSON is the same schema
	// as JSON, with every $ref resolved and a $schema naming its draft.
	Schema     *jsonschema.Schema
	SchemaJSON []byte
	// Examples are the message's example payloads, as JSON, each valid.
	Examples [][]byte

	// doc is SchemaJSON decoded, for Sample; read only.
	doc any
}

// Inputs are the operations edkit sends: those the application receives.
func (d *Document) Inputs() []Operation { return d.by(Receive) }

// Outputs are the operations edkit watches: those the application sends.
func (d *Document) Outputs() []Operation { return d.by(Send) }

func (d *Document) by(a Action) []Operation {
	var out []Operation
	for _, op := range d.Operations {
		if op.Action == a {
			out = append(out, op)
		}
	}
	return out
}
