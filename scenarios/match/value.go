package match

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// decode parses exactly one JSON document, keeping each number's text
// (json.Number) so that no precision is lost before comparing.
func decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: more data after the document")
	}
	return v, nil
}

// Equal reports whether two JSON documents are equal: numbers as numbers
// (1, 1.0 and 1e0 are equal, exactly, beyond float64), object members in
// any order, arrays in order — the equality `equals:` matches by, for Go
// tests that compare documents the same way; an error means a or b is not
// one valid JSON document.
func Equal(a, b []byte) (bool, error) {
	va, err := decode(a)
	if err != nil {
		return false, fmt.Errorf("first document: %w", err)
	}
	vb, err := decode(b)
	if err != nil {
		return false, fmt.Errorf("second document: %w", err)
	}
	var d differ
	return d.diff(va, vb) == "", nil
}

// differ finds the first place where two decoded documents differ. It
// keeps the path as a stack of tokens and joins it only for the message,
// so a deep document costs no more than a shallow one per value.
type differ struct {
	path []string
}

// diff returns "" when got equals want, else where and how they differ.
func (d *differ) diff(got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		if g, ok := got.(map[string]any); ok {
			return d.object(g, w)
		}
	case []any:
		if g, ok := got.([]any); ok {
			return d.array(g, w)
		}
	default:
		if scalarEqual(got, want) {
			return ""
		}
	}
	return d.mismatch("got "+jsonvalue.Render(got), "want "+jsonvalue.Render(want))
}

// object visits the members of both objects in name order, so that the
// first difference reported does not depend on map iteration.
func (d *differ) object(got, want map[string]any) string {
	for _, name := range jsonvalue.UnionKeys(want, got) {
		if msg := d.member(got, want, name); msg != "" {
			return msg
		}
	}
	return ""
}

func (d *differ) member(got, want map[string]any, name string) string {
	d.path = append(d.path, name)
	defer func() { d.path = d.path[:len(d.path)-1] }()
	g, inGot := got[name]
	w, inWant := want[name]
	switch {
	case !inGot:
		return d.mismatch("missing", "want "+jsonvalue.Render(w))
	case !inWant:
		return d.mismatch("got "+jsonvalue.Render(g), "want no such member")
	}
	return d.diff(g, w)
}

func (d *differ) array(got, want []any) string {
	for i := range max(len(got), len(want)) {
		if msg := d.element(got, want, i); msg != "" {
			return msg
		}
	}
	return ""
}

func (d *differ) element(got, want []any, i int) string {
	d.path = append(d.path, strconv.Itoa(i))
	defer func() { d.path = d.path[:len(d.path)-1] }()
	switch {
	case i >= len(got):
		return d.mismatch(fmt.Sprintf("missing (array has %d elements)", len(got)), "want "+jsonvalue.Render(want[i]))
	case i >= len(want):
		return d.mismatch("got "+jsonvalue.Render(got[i]), fmt.Sprintf("want no such element (want %d elements)", len(want)))
	}
	return d.diff(got[i], want[i])
}

// mismatch words a difference at the current path; at the root there is no
// place to name.
func (d *differ) mismatch(got, want string) string {
	return at(d.path) + got + ", " + want
}

// at begins a message about the value at tokens; the whole document needs
// no place.
func at(tokens []string) string {
	if len(tokens) == 0 {
		return ""
	}
	return "at " + showPointer(tokens) + ": "
}

func scalarEqual(got, want any) bool {
	switch w := want.(type) {
	case json.Number:
		g, ok := got.(json.Number)
		return ok && numKey(string(g)) == numKey(string(w))
	case string:
		g, ok := got.(string)
		return ok && g == w
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case nil:
		return got == nil
	}
	return false
}

// numKey normalizes a JSON number's text so that two numbers are equal
// exactly when their keys are: sign, significant digits with no leading or
// trailing zeros, and the power of ten that places them. Working on the
// text rather than with big.Rat is exact and takes time linear in the text:
// big.Rat would compute 10^999999 for "1e999999", a few bytes a broker
// could send by the thousand. An exponent beyond int64 (no real payload has
// one) is kept as written, so such numbers compare by their text.
func numKey(s string) string {
	sign := ""
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		sign, s = "-", rest
	}
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	sig := strings.TrimRight(digits, "0")
	if sig == "" {
		return "0"
	}
	shift := int64(len(digits)-len(sig)) - int64(len(frac))
	return sign + sig + "e" + exponent(exp, shift)
}

// exponent adds shift to the written exponent exp, as text.
func exponent(exp string, shift int64) string {
	esign := ""
	switch {
	case strings.HasPrefix(exp, "-"):
		esign, exp = "-", exp[1:]
	case strings.HasPrefix(exp, "+"):
		exp = exp[1:]
	}
	exp = strings.TrimLeft(exp, "0")
	if exp == "" {
		return strconv.FormatInt(shift, 10)
	}
	e, err := strconv.ParseInt(esign+exp, 10, 64)
	if err != nil || len(exp) > 18 {
		return esign + exp + "~" + strconv.FormatInt(shift, 10)
	}
	return strconv.FormatInt(e+shift, 10)
}
