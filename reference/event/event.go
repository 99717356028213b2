package event

import (
	"encoding/json"
	"fmt"
	"time"
)

// Envelope is one event as the store keeps it and the bus carries it. The
// store assigns Version (the event's 1-based position in its stream) and
// Position (its 1-based position in the global log) on append; callers leave
// them zero.
type Envelope struct {
	// ID identifies the event; appends that repeat an ID are retries, not new events.
	ID string `json:"id"`
	// Type names the event's schema, e.g. "OrderPlaced".
	Type string `json:"type"`
	// Stream is the aggregate or entity the event belongs to, e.g. "order-42".
	Stream string `json:"stream"`
	// Version is the event's position in its stream, from 1.
	Version uint64 `json:"version"`
	// Position is the event's position in the store's global order, from 1.
	Position uint64 `json:"position"`
	// Time is when the store accepted the event, from the store's clock.
	Time time.Time `json:"time"`
	// Data is the event body, JSON by convention.
	Data json.RawMessage `json:"data"`
	// Metadata carries correlation and causation IDs and other headers.
	Metadata map[string]string `json:"metadata,omitempty"`
	// SchemaVersion is the version of Type's schema the Data was written with.
	SchemaVersion int `json:"schemaVersion,omitempty"`
}

// Well-known metadata keys.
const (
	// MetaCorrelationID ties together everything caused by one command.
	MetaCorrelationID = "correlation-id"
	// MetaCausationID is the ID of the message that caused this one.
	MetaCausationID = "causation-id"
)

// New builds an envelope whose Data is v encoded as JSON.
func New(id, typ, stream string, v any) (Envelope, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Envelope{}, fmt.Errorf("event: encode %s: %w", typ, err)
	}
	return Envelope{ID: id, Type: typ, Stream: stream, Data: data, SchemaVersion: 1}, nil
}

// Decode unmarshals the event body into v.
func (e Envelope) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("event: decode %s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// Clone returns a deep copy, so that a store can hand out events without
// sharing mutable slices and maps with callers.
func (e Envelope) Clone() Envelope {
	c := e
	if e.Data != nil {
		c.Data = append(json.RawMessage(nil), e.Data...)
	}
	if e.Metadata != nil {
		c.Metadata = make(map[string]string, len(e.Metadata))
		for k, v := range e.Metadata {
			c.Metadata[k] = v
		}
	}
	return c
}
