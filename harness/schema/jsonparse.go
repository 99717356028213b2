package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// MaxDepth bounds how deeply objects and arrays nest in a schema or a
// sample: the same bound scenario files have, far above any hand-written
// schema, low enough that a hostile file cannot exhaust the stack.
const MaxDepth = yamlfile.MaxDepth

// parseError is a problem at a byte offset of the input.
type parseError struct {
	off int
	msg string
}

func (e *parseError) Error() string { return e.msg }

// jsonParser decodes one JSON document into the values encoding/json
// produces with UseNumber, refusing what json.Unmarshal accepts silently:
// a repeated key (the last would win), data after the document, nesting
// beyond MaxDepth and numbers that jsonvalue.TooLarge reports (the
// validator and the comparison compute with big.Rat, which builds 10^N for
// an exponent N). When want is set it also finds where the value at that
// pointer is written.
type jsonParser struct {
	data []byte
	dec  *json.Decoder
	path []string
	want []string
	// found is the offset of the value (or member name) at want, -1 if
	// not seen.
	found int
}

// parseJSON decodes data; on a problem it returns a *parseError.
func parseJSON(data []byte) (any, error) {
	p := newJSONParser(data, nil)
	return p.document()
}

// locateJSON returns the offset where the value at tokens is written, or
// -1.
func locateJSON(data []byte, tokens []string) int {
	p := newJSONParser(data, tokens)
	_, _ = p.document() // a located file parsed once already
	return p.found
}

func newJSONParser(data []byte, want []string) *jsonParser {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &jsonParser{data: data, dec: dec, want: want, found: -1}
}

func (p *jsonParser) document() (any, error) {
	if len(bytes.TrimSpace(p.data)) == 0 {
		return nil, &parseError{0, "empty file: want a JSON Schema (an object)"}
	}
	p.mark(p.start())
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	off := p.start()
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &parseError{off, "unexpected data after the JSON document"}
	}
	return v, nil
}

// start is the offset where the next token begins.
func (p *jsonParser) start() int {
	off := int(p.dec.InputOffset())
	for off < len(p.data) {
		switch p.data[off] {
		case ' ', '\t', '\n', '\r', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

// mark records off when the current path is the wanted one.
func (p *jsonParser) mark(off int) {
	if p.want == nil || p.found >= 0 || len(p.path) != len(p.want) {
		return
	}
	for i := range p.path {
		if p.path[i] != p.want[i] {
			return
		}
	}
	p.found = off
}

// syntax turns a decoder error into a positioned one. The decoder's own
// offsets are relative to its buffer; json.Unmarshal over the whole input
// names the same mistake with an absolute offset.
func (p *jsonParser) syntax(off int, err error) error {
	var v any
	uerr := json.Unmarshal(p.data, &v)
	var se *json.SyntaxError
	if errors.As(uerr, &se) {
		at := int(se.Offset) - 1
		if at < 0 {
			at = 0
		}
		return &parseError{at, "not JSON: " + se.Error()}
	}
	if uerr != nil {
		return &parseError{off, "not JSON: " + uerr.Error()}
	}
	return &parseError{off, "not JSON: " + err.Error()}
}

func (p *jsonParser) value(depth int) (any, error) {
	off := p.start()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntax(off, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxDepth {
			return nil, &parseError{off, fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
		}
		switch t {
		case '{':
			return p.object(depth + 1)
		case '[':
			return p.array(depth + 1)
		}
		return nil, p.syntax(off, fmt.Errorf("unexpected %q", rune(t)))
	case json.Number:
		if jsonvalue.TooLarge(string(t)) {
			return nil, &parseError{off, "number " + jsonvalue.Cut(string(t), jsonvalue.MaxShown) + " is too large (want at most " +
				strconv.Itoa(jsonvalue.MaxDigits) + " digits and an exponent within ±" + strconv.Itoa(jsonvalue.MaxExponent) + ")"}
		}
		return t, nil
	default:
		return t, nil
	}
}

func (p *jsonParser) object(depth int) (any, error) {
	m := map[string]any{}
	for p.dec.More() {
		off := p.start()
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.syntax(off, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, p.syntax(off, errors.New("expected a member name"))
		}
		if _, dup := m[key]; dup {
			return nil, &parseError{off, "duplicate key " + quote(key)}
		}
		p.path = append(p.path, key)
		p.mark(off)
		v, err := p.value(depth)
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
	off := p.start()
	if _, err := p.dec.Token(); err != nil {
		return nil, p.syntax(off, err)
	}
	return m, nil
}

func (p *jsonParser) array(depth int) (any, error) {
	a := []any{}
	for i := 0; p.dec.More(); i++ {
		p.path = append(p.path, strconv.Itoa(i))
		p.mark(p.start())
		v, err := p.value(depth)
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
	off := p.start()
	if _, err := p.dec.Token(); err != nil {
		return nil, p.syntax(off, err)
	}
	return a, nil
}

// lineCol turns a byte offset into a 1-based line and column (in
// characters, as editors count).
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[lineStart:]) + 1
}
