package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/harness/clock"
)

// Type is an operation's outcome, in Jepsen's vocabulary.
type Type string

const (
	// Invoke starts an operation whose outcome comes later.
	Invoke Type = "invoke"
	// OK completes an operation that surely happened; observations (a
	// delivery, an effect) are recorded as OK alone.
	OK Type = "ok"
	// Fail completes an operation that surely did not happen.
	Fail Type = "fail"
	// Info completes an operation whose outcome is unknown: it may or may
	// not have happened (a publish that timed out).
	Info Type = "info"
)

// Func names what an operation did.
type Func string

const (
	// Publish is a producer sending a message (invoke, then ok/fail/info).
	Publish Func = "publish"
	// Deliver is a consumer receiving a message (ok).
	Deliver Func = "deliver"
	// Ack is a consumer settling a message as processed (ok).
	Ack Func = "ack"
	// Nack is a consumer settling a message as failed (ok); Value says
	// "requeue" when it asked for redelivery.
	Nack Func = "nack"
	// Effect is a side effect a handler performed for a message (ok);
	// Value names the effect.
	Effect Func = "effect"
	// DeadLetter is a consumer giving up on a message and sending it to the
	// dead-letter topic (ok); Value is the reason, Attempt the attempts made.
	DeadLetter Func = "dead-letter"
	// Resubscribe is a consumer subscribing again after its subscription
	// ended while the run went on (a broker restart, say): ok when the new
	// subscription is up, fail for an attempt that failed (Error says why).
	Resubscribe Func = "resubscribe"

	// Append is a writer appending events to a stream of an event store
	// (invoke, then ok/fail/info). Key is the stream; on the invoke, Value
	// is the expected version ("any", "no-stream", "exists" or a number),
	// MsgID the first event's ID and Seq the number of events; on ok, Seq
	// is the stream's version after the append. A fail is a refusal, such
	// as a concurrency conflict (Error says the actual version).
	Append Func = "append"
	// Read is a reader reading a stream's version (invoke, then
	// ok/fail/info); ok's Seq is the version read, 0 for no stream.
	Read Func = "read"
	// Commit is one event an append made durable (ok, recorded after the
	// append's ok): Key is the stream, MsgID the event's ID, Seq its
	// version.
	Commit Func = "commit"

	// Fault is a fault injected into the run (chaos): invoke when it is
	// injected, ok when it is healed, fail for an injection or heal that
	// failed (Error says why). Value names the fault ("pause kafka").
	Fault Func = "fault"
)

// Op is one entry of a history. Process, Topic, Group, Key, MsgID, Producer
// and Seq identify what the operation touched; Index and Time are assigned
// by the Recorder.
type Op struct {
	// Index is the op's place in the history, from 0.
	Index int64 `json:"index"`
	// Time is when the op was recorded, since the recorder started.
	Time time.Duration `json:"time"`
	// Process is who did it: a producer worker, a consumer instance.
	Process string `json:"process"`
	Type    Type   `json:"type"`
	F       Func   `json:"f"`
	Topic   string `json:"topic,omitempty"`
	// Group is the consumer group (deliver, ack, nack, effect, dead-letter).
	Group string `json:"group,omitempty"`
	Key   string `json:"key,omitempty"`
	MsgID string `json:"msg,omitempty"`
	// Producer is the producer ID stamped on the message (a service or
	// producer session that keeps its own sequence), "" when the message
	// carries none. Unlike Process, it travels with the message, so a
	// consumer-side op can record it too.
	Producer string `json:"producer,omitempty"`
	// Seq is the producer's per-key sequence number, from 1; 0 when unknown.
	// With several producers per key, each stamping its own sequence, it is
	// per key and producer.
	Seq int64 `json:"seq,omitempty"`
	// Attempt is the delivery attempt, from 1.
	Attempt int    `json:"attempt,omitempty"`
	Value   string `json:"value,omitempty"`
	Error   string `json:"error,omitempty"`
}

// String renders an op on one line for witnesses and failure messages.
func (o Op) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s %s %s", o.Index, o.Time.Round(time.Microsecond), o.Process, o.Type, o.F)
	if o.Topic != "" {
		fmt.Fprintf(&b, " topic=%s", o.Topic)
	}
	if o.Group != "" {
		fmt.Fprintf(&b, " group=%s", o.Group)
	}
	if o.Key != "" {
		fmt.Fprintf(&b, " key=%s", o.Key)
	}
	if o.MsgID != "" {
		fmt.Fprintf(&b, " msg=%s", o.MsgID)
	}
	if o.Producer != "" {
		fmt.Fprintf(&b, " producer=%s", o.Producer)
	}
	if o.Seq != 0 {
		fmt.Fprintf(&b, " seq=%d", o.Seq)
	}
	if o.Attempt != 0 {
		fmt.Fprintf(&b, " attempt=%d", o.Attempt)
	}
	if o.Value != "" {
		fmt.Fprintf(&b, " value=%q", o.Value)
	}
	if o.Error != "" {
		fmt.Fprintf(&b, " error=%q", o.Error)
	}
	return b.String()
}

// Recorder collects ops from many goroutines into one totally ordered
// history. It is safe for concurrent use.
type Recorder struct {
	clk   clock.Clock
	start time.Time

	mu sync.Mutex
	// chunks hold the ops in blocks of chunkSize (the first grows to it
	// from 64): a long run never copies its whole history to grow it, which
	// keeps Record's cost flat.
	chunks [][]Op
	n      int
	sink   *bufio.Writer
	file   *FileWriter
	closed bool
	err    error
}

const chunkSize = 4096

// RecorderOption configures a Recorder.
type RecorderOption func(*Recorder)

// WithSink streams every op as a JSON line to w as it is recorded, so that a
// crashed run still leaves its history behind. Flush before reading w.
func WithSink(w io.Writer) RecorderOption {
	return func(r *Recorder) { r.sink = bufio.NewWriterSize(w, 64<<10) }
}

// WithFile streams every op to a history file as it is recorded, and keeps
// none in memory: Ops returns nothing, Len still counts. This is how a long
// run records at flat memory; its checks read the file back (Flush first).
func WithFile(w *FileWriter) RecorderOption {
	return func(r *Recorder) { r.file = w }
}

// NewRecorder starts a history whose times are measured on clk.
func NewRecorder(clk clock.Clock, opts ...RecorderOption) *Recorder {
	if clk == nil {
		clk = clock.Real{}
	}
	r := &Recorder{clk: clk, start: clk.Now()}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Record appends op, assigning its Index and Time, and returns it.
func (r *Recorder) Record(op Op) Op {
	now := r.clk.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Index = int64(r.n)
	op.Time = now.Sub(r.start)
	if r.file != nil {
		if r.closed {
			return op // after Close: the history is complete
		}
		r.n++
		if r.err == nil {
			r.err = r.file.Write(op)
		}
		return op
	}
	if r.n%chunkSize == 0 {
		// The first chunk starts small and grows: a scenario's history is
		// tens of ops, and 4,096 of them are most of a megabyte to clear.
		size := chunkSize
		if r.n == 0 {
			size = 64
		}
		r.chunks = append(r.chunks, make([]Op, 0, size))
	}
	last := len(r.chunks) - 1
	r.chunks[last] = append(r.chunks[last], op)
	r.n++
	if r.sink != nil && r.err == nil {
		r.err = writeLine(r.sink, op)
	}
	return op
}

// Ops returns a copy of the history so far; nil for a recorder that
// streams to a file (WithFile).
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file != nil {
		return nil
	}
	out := make([]Op, 0, r.n)
	for _, c := range r.chunks {
		out = append(out, c...)
	}
	return out
}

// Len is the number of ops recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Flush writes buffered ops to the sink and reports the first write error.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sink != nil && r.err == nil {
		r.err = r.sink.Flush()
	}
	if r.file != nil && r.err == nil {
		r.err = r.file.Flush()
	}
	return r.err
}

// Close ends the history: a file-backed recorder closes its file, which
// can then be read whole, and records nothing more (ops recorded later are
// not part of the history and not counted). It is idempotent.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return r.err
	}
	r.closed = true
	if r.sink != nil && r.err == nil {
		r.err = r.sink.Flush()
	}
	if r.file != nil {
		r.err = errors.Join(r.err, r.file.Close())
	}
	return r.err
}

func writeLine(w io.Writer, op Op) error {
	b, err := json.Marshal(op)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// WriteJSONL writes ops as JSON lines.
func WriteJSONL(w io.Writer, ops []Op) error {
	bw := bufio.NewWriter(w)
	for _, op := range ops {
		if err := writeLine(bw, op); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// SyntaxError locates a malformed line of a JSON-lines history.
type SyntaxError struct {
	Line, Column int
	Err          error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%d:%d: %v", e.Line, e.Column, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// ReadJSONL parses a JSON-lines history. Blank lines are skipped; a bad line
// returns a *SyntaxError naming its line and column.
func ReadJSONL(r io.Reader) ([]Op, error) {
	ops, err := Collect(NewJSONLReader(r))
	if err != nil {
		return nil, err
	}
	return ops, nil
}

// parseLine decodes one JSON line, the line-th of its file.
func parseLine(b []byte, line int) (Op, error) {
	var op Op
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&op); err != nil {
		col := 1
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			col = int(se.Offset)
		case errors.As(err, &te):
			col = int(te.Offset)
		}
		return Op{}, &SyntaxError{Line: line, Column: col, Err: err}
	}
	if err := op.validate(); err != nil {
		return Op{}, &SyntaxError{Line: line, Column: 1, Err: err}
	}
	return op, nil
}

func (o Op) validate() error {
	switch o.Type {
	case Invoke, OK, Fail, Info:
	default:
		return fmt.Errorf("history: unknown op type %q (want invoke, ok, fail or info)", o.Type)
	}
	if o.F == "" {
		return errors.New(`history: op has no "f"`)
	}
	return nil
}
