package signing

import (
	"bytes"
	"encoding/binary"
	"maps"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/reference/bus"
)

// headersFrom turns "k1\x00v1\x00k2\x00v2" into a header map, so the fuzzer
// can drive names and values, including '=', newlines and empty strings.
func headersFrom(s string) map[string]string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, "\x00")
	h := make(map[string]string)
	for i := 0; i < len(parts); i += 2 {
		v := ""
		if i+1 < len(parts) {
			v = parts[i+1]
		}
		h[parts[i]] = v
	}
	return h
}

// signedPart drops the headers the MAC leaves out.
func signedPart(h map[string]string, ignore map[string]bool) map[string]string {
	out := make(map[string]string)
	for k, v := range h {
		if !ignore[k] {
			out[k] = v
		}
	}
	return out
}

func sameSignedContent(a, b *bus.Message, ignore map[string]bool) bool {
	return a.ID == b.ID && a.Topic == b.Topic && a.Key == b.Key && bytes.Equal(a.Payload, b.Payload) &&
		maps.Equal(signedPart(a.Headers, ignore), signedPart(b.Headers, ignore))
}

// decodeCanonical parses an encoding back into a message. That it succeeds
// and consumes every byte is the proof that the encoding is unambiguous.
func decodeCanonical(t *testing.T, enc []byte) *bus.Message {
	t.Helper()
	next := func() []byte {
		t.Helper()
		if len(enc) < 8 {
			t.Fatalf("truncated length: %d bytes left", len(enc))
		}
		n := binary.BigEndian.Uint64(enc)
		enc = enc[8:]
		if uint64(len(enc)) < n {
			t.Fatalf("field of %d bytes with %d left", n, len(enc))
		}
		f := enc[:n]
		enc = enc[n:]
		return f
	}
	if v := string(next()); v != encodingVersion {
		t.Fatalf("version %q", v)
	}
	m := &bus.Message{ID: string(next()), Topic: string(next()), Key: string(next()), Payload: next()}
	if len(enc) < 8 {
		t.Fatal("no header count")
	}
	count := binary.BigEndian.Uint64(enc)
	enc = enc[8:]
	m.Headers = make(map[string]string)
	prev := ""
	for i := uint64(0); i < count; i++ {
		k, v := string(next()), string(next())
		if i > 0 && k <= prev {
			t.Fatalf("headers not strictly sorted: %q after %q", k, prev)
		}
		prev = k
		m.Headers[k] = v
	}
	if len(enc) != 0 {
		t.Fatalf("%d trailing bytes", len(enc))
	}
	return m
}

func FuzzCanonicalEncoding(f *testing.F) {
	// Seeds are near-collisions a naive concatenation would merge.
	f.Add("1", "t", "ab", []byte("c"), "", "1", "t", "a", []byte("bc"), "")
	f.Add("1", "t", "k", []byte("p"), "a\x00bc", "1", "t", "k", []byte("p"), "ab\x00c")
	f.Add("1", "t", "k", []byte(""), "", "1", "t", "k", []byte(nil), "")
	f.Add("1", "t", "k", []byte("p"), "a\x00\x00b\x00", "1", "t", "k", []byte("p"), "b\x00\x00a\x00")
	f.Add("", "", "", []byte{}, "x\x00", "", "", "", []byte{}, "")
	f.Add("1", "t", "k", []byte("p"), "edkit-sig\x00zz", "1", "t", "k", []byte("p"), "")
	f.Add("1", "t", "k", []byte("p"), "edkit-attempt\x002", "1", "t", "k", []byte("p"), "edkit-attempt\x003")
	ignore := newConfig(nil).ignore
	f.Fuzz(func(t *testing.T, idA, topicA, keyA string, payA []byte, hdrA string,
		idB, topicB, keyB string, payB []byte, hdrB string) {
		a := &bus.Message{ID: idA, Topic: topicA, Key: keyA, Payload: payA, Headers: headersFrom(hdrA)}
		b := &bus.Message{ID: idB, Topic: topicB, Key: keyB, Payload: payB, Headers: headersFrom(hdrB)}
		encA, encB := canonical(a, ignore), canonical(b, ignore)
		if got, want := bytes.Equal(encA, encB), sameSignedContent(a, b, ignore); got != want {
			t.Fatalf("encodings equal = %v, messages equal = %v\na: %+v\nb: %+v", got, want, a, b)
		}
		if back := decodeCanonical(t, encA); !sameSignedContent(a, back, ignore) {
			t.Fatalf("decoded %+v, want %+v", back, a)
		}
		if !bytes.Equal(encA, canonical(a.Clone(), ignore)) {
			t.Fatal("encoding is not deterministic")
		}
	})
}

func TestCanonicalIgnoresHeaderOrder(t *testing.T) {
	ignore := newConfig(nil).ignore
	a := &bus.Message{ID: "1", Topic: "t", Headers: map[string]string{}}
	b := &bus.Message{ID: "1", Topic: "t", Headers: map[string]string{}}
	const n = 40
	for i := 0; i < n; i++ {
		a.Headers[string(rune('a'+i))] = "v"
		b.Headers[string(rune('a'+n-1-i))] = "v"
	}
	want := canonical(a, ignore)
	// Map iteration order is random per range: repeat so an order-dependent
	// encoding would show.
	for i := 0; i < 50; i++ {
		if !bytes.Equal(canonical(b, ignore), want) {
			t.Fatal("encoding depends on header insertion or iteration order")
		}
	}
}
