package pebblestore

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
)

// Table prefixes. Each key is one prefix and its fields, see doc.go.
var (
	prefixLog    = []byte("g/")
	prefixStream = []byte("s/")
	prefixHead   = []byte("h/")
	prefixID     = []byte("i/")
	keyLast      = []byte("m/last")
	prefixMeta   = []byte("x/")
	prefixSnap   = []byte("n/")
)

// headerLen is the fixed start of an encoded envelope: version and time,
// filled in under the allocation lock after the rest was encoded outside it.
const headerLen = 16

func be8(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func logKey(pos uint64) []byte {
	k := make([]byte, 0, len(prefixLog)+8)
	k = append(k, prefixLog...)
	return binary.BigEndian.AppendUint64(k, pos)
}

// streamPrefix is length-prefixed so that no stream's keys fall inside
// another stream's range (stream "a" vs stream "a/x").
func streamPrefix(stream string) []byte {
	k := make([]byte, 0, len(prefixStream)+binary.MaxVarintLen64+len(stream)+8)
	k = append(k, prefixStream...)
	k = binary.AppendUvarint(k, uint64(len(stream)))
	return append(k, stream...)
}

func streamKey(prefix []byte, version uint64) []byte {
	k := make([]byte, 0, len(prefix)+8)
	k = append(k, prefix...)
	return binary.BigEndian.AppendUint64(k, version)
}

func headKey(stream string) []byte {
	return append(append(make([]byte, 0, len(prefixHead)+len(stream)), prefixHead...), stream...)
}

func idKey(id string) []byte {
	return append(append(make([]byte, 0, len(prefixID)+len(id)), prefixID...), id...)
}

// idLoc is where an event ID is stored: the value of its i/ key.
type idLoc struct {
	stream   string
	version  uint64
	position uint64
}

func encodeIDLoc(l idLoc) []byte {
	v := make([]byte, 0, 16+len(l.stream))
	v = binary.BigEndian.AppendUint64(v, l.position)
	v = binary.BigEndian.AppendUint64(v, l.version)
	return append(v, l.stream...)
}

func decodeIDLoc(v []byte) (idLoc, error) {
	if len(v) < 16 {
		return idLoc{}, fmt.Errorf("event-ID record of %d bytes: %w", len(v), ErrCorrupt)
	}
	return idLoc{
		position: binary.BigEndian.Uint64(v),
		version:  binary.BigEndian.Uint64(v[8:]),
		stream:   string(v[16:]),
	}, nil
}

// encodeBody encodes everything of e but its version and time (left as a
// zero header) and its position (the key holds it). Nil and empty Data and
// Metadata are kept apart by storing length+1, with 0 meaning nil.
func encodeBody(stream string, e event.Envelope) []byte {
	n := headerLen + 5*binary.MaxVarintLen64 + len(stream) + len(e.ID) + len(e.Type) + len(e.Data)
	for k, v := range e.Metadata {
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	b := make([]byte, headerLen, n)
	b = appendString(b, stream)
	b = appendString(b, e.ID)
	b = appendString(b, e.Type)
	if e.Data == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(e.Data))+1)
		b = append(b, e.Data...)
	}
	if e.Metadata == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(e.Metadata))+1)
		for k, v := range e.Metadata {
			b = appendString(b, k)
			b = appendString(b, v)
		}
	}
	return binary.AppendVarint(b, int64(e.SchemaVersion))
}

// setHeader fills the version and time of a body from encodeBody.
func setHeader(b []byte, version uint64, at time.Time) {
	binary.BigEndian.PutUint64(b, version)
	binary.BigEndian.PutUint64(b[8:], uint64(at.UnixNano()))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads an encoded envelope; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad length: %w", ErrCorrupt)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("field of %d bytes past the end: %w", n, ErrCorrupt)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes(d.uvarint())) }

// decodeEnvelope decodes the value of g/<position>. It copies everything out
// of v, which Pebble may reuse.
func decodeEnvelope(position uint64, v []byte) (event.Envelope, error) {
	if len(v) < headerLen {
		return event.Envelope{}, fmt.Errorf("event at position %d: %d bytes: %w", position, len(v), ErrCorrupt)
	}
	e := event.Envelope{
		Position: position,
		Version:  binary.BigEndian.Uint64(v),
		Time:     time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))),
	}
	d := decoder{b: v[headerLen:]}
	e.Stream = d.string()
	e.ID = d.string()
	e.Type = d.string()
	if n := d.uvarint(); n > 0 {
		e.Data = append(make([]byte, 0, n-1), d.bytes(n-1)...)
	}
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n-1 > uint64(len(d.b)) {
			return event.Envelope{}, fmt.Errorf("event at position %d: %d metadata entries: %w", position, n-1, ErrCorrupt)
		}
		e.Metadata = make(map[string]string, n-1)
		for i := uint64(1); i < n; i++ {
			k := d.string()
			e.Metadata[k] = d.string()
		}
	}
	if d.err == nil {
		sv, n := binary.Varint(d.b)
		if n <= 0 {
			d.err = fmt.Errorf("bad schema version: %w", ErrCorrupt)
		}
		e.SchemaVersion = int(sv)
	}
	if d.err != nil {
		return event.Envelope{}, fmt.Errorf("event at position %d: %w", position, d.err)
	}
	return e, nil
}
