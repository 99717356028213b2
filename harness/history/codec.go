package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// The binary op encoding, used by history files and by the checkers'
// partition files. JSON lines cost about a microsecond an op to write and
// three to read; a shop run records 45 ops per order, so at 4,000 orders/s
// JSON alone would take most of a core. This encoding is a length-prefixed
// record of varints and length-prefixed strings:
//
//	record = uvarint(len(body)) body
//	body   = uvarint(Index) varint(Time) byte(Type) str(F) str(Process)
//	         str(Topic) str(Group) str(Key) str(MsgID) str(Producer)
//	         varint(Seq) varint(Attempt) str(Value) str(Error)
//	str    = uvarint(len) bytes
//
// Compression (zstd, in the file layer) removes the repetition of names and
// IDs that a dictionary would otherwise have to.

// MaxRecord bounds one encoded op, so that a corrupt length prefix cannot
// make a reader allocate without limit.
const MaxRecord = 1 << 20

var typeCodes = [...]Type{1: Invoke, 2: OK, 3: Fail, 4: Info}

func typeCode(t Type) byte {
	for i, v := range typeCodes {
		if i > 0 && v == t {
			return byte(i)
		}
	}
	return 0
}

// AppendBinary appends op's binary record to b.
func AppendBinary(b []byte, op Op) []byte {
	start := len(b)
	// Reserve the longest length prefix a record can need, then move the
	// body down once its length is known: one copy, no second buffer.
	b = append(b, make([]byte, binary.MaxVarintLen32)...)
	body := len(b)
	b = binary.AppendUvarint(b, uint64(op.Index))
	b = binary.AppendVarint(b, int64(op.Time))
	b = append(b, typeCode(op.Type))
	for _, s := range [...]string{string(op.F), op.Process, op.Topic, op.Group, op.Key, op.MsgID, op.Producer} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, op.Seq)
	b = binary.AppendVarint(b, int64(op.Attempt))
	b = appendString(b, op.Value)
	b = appendString(b, op.Error)
	n := len(b) - body
	var pre [binary.MaxVarintLen32]byte
	k := binary.PutUvarint(pre[:], uint64(n))
	copy(b[start:], pre[:k])
	copy(b[start+k:], b[body:])
	return b[:start+k+n]
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errCorrupt is wrapped by every decoding error of a malformed record.
var errCorrupt = errors.New("corrupt record")

// binaryReader decodes binary records from a byte stream. Strings that
// repeat across ops (functions, processes, topics, groups) are interned, so
// a decoded history shares them instead of holding one copy per op.
type binaryReader struct {
	r      io.ByteReader
	full   io.Reader
	buf    []byte
	intern map[string]string
}

func newBinaryReader(r interface {
	io.Reader
	io.ByteReader
}) *binaryReader {
	return &binaryReader{r: r, full: r, intern: make(map[string]string)}
}

// read decodes the next record into op; io.EOF at a record boundary ends
// the stream cleanly, io.ErrUnexpectedEOF means a truncated record.
func (d *binaryReader) read(op *Op) error {
	n, err := binary.ReadUvarint(d.r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("%w: length: %w", errCorrupt, err)
	}
	if n == 0 || n > MaxRecord {
		return fmt.Errorf("%w: length %d out of range (1 to %d)", errCorrupt, n, MaxRecord)
	}
	if cap(d.buf) < int(n) {
		d.buf = make([]byte, n)
	}
	d.buf = d.buf[:n]
	if _, err := io.ReadFull(d.full, d.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return d.decode(d.buf, op)
}

// decode parses one record body.
func (d *binaryReader) decode(b []byte, op *Op) error {
	p := parser{b: b}
	idx := p.uvarint()
	tm := p.varint()
	tc := p.byte()
	f := d.str(&p, true)
	*op = Op{
		Index: int64(idx), Time: time.Duration(tm), F: Func(f),
		Process: d.str(&p, true), Topic: d.str(&p, true), Group: d.str(&p, true),
		Key: d.str(&p, false), MsgID: d.str(&p, false), Producer: d.str(&p, true),
		Seq: p.varint(), Attempt: int(p.varint()),
		Value: d.str(&p, true), Error: d.str(&p, false),
	}
	if p.err != nil {
		return fmt.Errorf("%w: %w", errCorrupt, p.err)
	}
	if len(p.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last field", errCorrupt, len(p.b))
	}
	if idx > 1<<62 {
		return fmt.Errorf("%w: index %d out of range", errCorrupt, idx)
	}
	if int(tc) >= len(typeCodes) || tc == 0 {
		return fmt.Errorf("%w: unknown op type code %d", errCorrupt, tc)
	}
	op.Type = typeCodes[tc]
	if err := op.validate(); err != nil {
		return fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return nil
}

// str reads a string; shared ones are interned, the map bounded so that a
// history of unique values cannot grow it without limit.
func (d *binaryReader) str(p *parser, shared bool) string {
	b := p.bytes()
	if len(b) == 0 {
		return ""
	}
	if !shared {
		return string(b)
	}
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.intern) < 4096 {
		d.intern[s] = s
	}
	return s
}

// parser reads varints and strings from a record body, remembering the
// first error so that decode checks once.
type parser struct {
	b   []byte
	err error
}

func (p *parser) fail(what string) {
	if p.err == nil {
		p.err = fmt.Errorf("truncated %s", what)
	}
	p.b = nil
}

func (p *parser) uvarint() uint64 {
	v, n := binary.Uvarint(p.b)
	if n <= 0 {
		p.fail("varint")
		return 0
	}
	p.b = p.b[n:]
	return v
}

func (p *parser) varint() int64 {
	v, n := binary.Varint(p.b)
	if n <= 0 {
		p.fail("varint")
		return 0
	}
	p.b = p.b[n:]
	return v
}

func (p *parser) byte() byte {
	if len(p.b) == 0 {
		p.fail("type")
		return 0
	}
	c := p.b[0]
	p.b = p.b[1:]
	return c
}

func (p *parser) bytes() []byte {
	n := p.uvarint()
	if p.err != nil {
		return nil
	}
	if n > uint64(len(p.b)) {
		p.fail("string")
		return nil
	}
	s := p.b[:n]
	p.b = p.b[n:]
	return s
}
