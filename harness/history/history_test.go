package history

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/clock"
)

func sampleOps() []Op {
	return []Op{
		{Process: "producer-1", Type: Invoke, F: Publish, Topic: "orders", Key: "k1", MsgID: "m1", Seq: 1},
		{Process: "producer-1", Type: OK, F: Publish, Topic: "orders", Key: "k1", MsgID: "m1", Seq: 1},
		{Process: "producer-1", Type: Invoke, F: Publish, Topic: "orders", Key: "k1", MsgID: "m2", Producer: "orders-svc", Seq: 2},
		{Process: "producer-1", Type: Info, F: Publish, Topic: "orders", Key: "k1", MsgID: "m2", Producer: "orders-svc", Seq: 2, Error: "timeout"},
		{Process: "consumer-a", Type: OK, F: Deliver, Group: "billing", Key: "k1", MsgID: "m1", Seq: 1, Attempt: 1},
		{Process: "consumer-a", Type: OK, F: Effect, Group: "billing", MsgID: "m1", Value: "charge \"€5\"\n"},
		{Process: "consumer-a", Type: OK, F: Nack, Group: "billing", MsgID: "m1", Value: "requeue"},
		{Process: "consumer-a", Type: OK, F: DeadLetter, Group: "billing", MsgID: "m1", Attempt: 3, Value: "poison"},
	}
}

func TestRoundTrip(t *testing.T) {
	var sink bytes.Buffer
	clk := clock.NewVirtual(time.Unix(0, 0))
	rec := NewRecorder(clk, WithSink(&sink))
	for _, op := range sampleOps() {
		clk.Advance(time.Millisecond)
		rec.Record(op)
	}
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}
	recorded := rec.Ops()
	if rec.Len() != len(sampleOps()) {
		t.Fatalf("Len = %d, want %d", rec.Len(), len(sampleOps()))
	}
	for i, op := range recorded {
		if op.Index != int64(i) || op.Time != time.Duration(i+1)*time.Millisecond {
			t.Fatalf("op %d: Index=%d Time=%v, want %d %v", i, op.Index, op.Time, i, time.Duration(i+1)*time.Millisecond)
		}
	}

	var written bytes.Buffer
	if err := WriteJSONL(&written, recorded); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
	}{
		{"WithSink", sink.String()},
		{"WriteJSONL", written.String()},
		{"blank lines and CRLF", "\n" + strings.ReplaceAll(written.String(), "\n", "\r\n\n  \n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadJSONL(strings.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, recorded) {
				t.Fatalf("read back\n%v\nwant\n%v", got, recorded)
			}
		})
	}
	if sink.String() != written.String() {
		t.Errorf("sink and WriteJSONL differ:\n%s\n%s", sink.String(), written.String())
	}
}

func TestReadJSONLBadInput(t *testing.T) {
	good := `{"index":0,"time":0,"process":"p","type":"ok","f":"deliver"}`
	tests := []struct {
		name      string
		in        string
		line, col int
		errSubstr string
	}{
		// A truncated line reports column 1: the decoder returns a bare
		// io.ErrUnexpectedEOF with no offset.
		{"truncated object", good + "\n" + `{"index":1,"type":"ok"`, 2, 1, "unexpected EOF"},
		{"not json", "\n\nhello", 3, 1, "invalid character"},
		{"bad char mid-line", good + "\n" + `{"index":1,"type":"ok",,}`, 2, 24, "invalid character"},
		// Type errors point just past the offending value.
		{"wrong type for field", `{"index":"zero","type":"ok","f":"ack"}`, 1, 15, "cannot unmarshal"},
		{"unknown field", `{"type":"ok","f":"ack","colour":"red"}`, 1, 1, "unknown field"},
		{"unknown op type", good + "\n" + `{"type":"maybe","f":"ack"}`, 2, 1, "unknown op type"},
		{"missing f", `{"type":"ok"}`, 1, 1, `no "f"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := ReadJSONL(strings.NewReader(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (ops %v), want *SyntaxError", err, ops)
			}
			if se.Line != tt.line || se.Column != tt.col {
				t.Errorf("at %d:%d, want %d:%d (%v)", se.Line, se.Column, tt.line, tt.col, err)
			}
			if !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("error %q does not contain %q", err, tt.errSubstr)
			}
			if ops != nil {
				t.Errorf("ops = %v, want nil on error", ops)
			}
		})
	}
}

// FuzzReadJSONL checks that no input panics the reader, and that whatever it
// accepts survives a write and a second read unchanged.
func FuzzReadJSONL(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, sampleOps()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"type":"ok","f":"ack"}`))
	f.Add([]byte("\n\n{\"type\":\"info\",\"f\":\"publish\",\"seq\":-3,\"value\":\"\\u00e9\\ud800\"}\r\n"))
	f.Add([]byte(`{"type":"ok","f":"x"} trailing`))
	f.Add([]byte(`{"index":1e3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, err := ReadJSONL(bytes.NewReader(data))
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 {
				t.Fatalf("error %v is not a *SyntaxError with a position", err)
			}
			return
		}
		var out bytes.Buffer
		if err := WriteJSONL(&out, ops); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := ReadJSONL(&out)
		if err != nil {
			t.Fatalf("re-read of %q: %v", out.String(), err)
		}
		if len(again) != len(ops) || len(ops) > 0 && !reflect.DeepEqual(again, ops) {
			t.Fatalf("round trip changed ops:\n%v\n%v", ops, again)
		}
	})
}

// TestProducerJSON pins the producer field's wire form: absent when empty,
// so histories written before the field existed read and write unchanged.
func TestProducerJSON(t *testing.T) {
	old := `{"index":0,"time":0,"process":"p","type":"ok","f":"deliver","key":"k","msg":"m","seq":3}`
	ops, err := ReadJSONL(strings.NewReader(old))
	if err != nil || len(ops) != 1 || ops[0].Producer != "" {
		t.Fatalf("ReadJSONL(%s) = %v, %v", old, ops, err)
	}
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, ops); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(buf.String()); got != old {
		t.Errorf("rewritten as\n%s\nwant\n%s", got, old)
	}
	ops[0].Producer = "orders-svc"
	buf.Reset()
	if err := WriteJSONL(&buf, ops); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"producer":"orders-svc"`) {
		t.Errorf("no producer field in %s", buf.String())
	}
	if s := ops[0].String(); !strings.Contains(s, " producer=orders-svc seq=3") {
		t.Errorf("String() = %q, want it to name the producer", s)
	}
}
