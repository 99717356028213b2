package asyncapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"regexp"
	"slices"
	"time"
)

// ratOf is a JSON number as a rational, nil for anything else.
func ratOf(v any) *big.Rat {
	n, ok := v.(json.Number)
	if !ok {
		return nil
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return nil
	}
	return r
}

// intOf is a whole JSON number ("3" or "3.0"), or def; one beyond int64
// is taken as larger than any limit here.
func intOf(v any, def int64) int64 {
	r := ratOf(v)
	switch {
	case r == nil || !r.IsInt():
		return def
	case r.Num().IsInt64():
		return r.Num().Int64()
	case r.Sign() > 0:
		return 1 << 62
	}
	return def
}

// number generates an integer or a number within the schema's bounds and
// a multiple of its multipleOf, exactly: with big.Rat, as the validator
// checks it. A number without multipleOf has two decimals (finer steps
// when the bounds are closer than 0.01).
func (g *gen) number(s map[string]any, integer bool, at []string) (any, error) {
	lo, loEx := bound(s, "minimum", "exclusiveMinimum")
	hi, hiEx := bound(s, "maximum", "exclusiveMaximum")
	for _, step := range steps(s, integer) {
		if v, ok := g.multiple(lo, hi, loEx, hiEx, step); ok {
			return json.Number(decimal(v)), nil
		}
	}
	return nil, cannot(at, "no %s meets the bounds and multipleOf", map[bool]string{true: "integer", false: "number"}[integer])
}

// bound is a lower (minimum) or upper (maximum) bound and whether it is
// exclusive: exclusive* as a number (draft 6 on), or as a boolean beside
// the bound (draft 4); the stricter when both are given.
func bound(s map[string]any, inclusive, exclusive string) (*big.Rat, bool) {
	b, ex := ratOf(s[inclusive]), false
	if flag, ok := s[exclusive].(bool); ok {
		ex = flag && b != nil
	}
	if e := ratOf(s[exclusive]); e != nil {
		c := 0
		if b != nil {
			c = e.Cmp(b)
			if inclusive == "maximum" {
				c = -c
			}
		}
		if b == nil || c >= 0 {
			b, ex = e, true
		}
	}
	return b, ex
}

// steps are the granularities to try: multipleOf (for an integer, the
// least multiple of it that is whole), else 1 for an integer, else 0.01
// then 0.000001 for a number.
func steps(s map[string]any, integer bool) []*big.Rat {
	m := ratOf(s["multipleOf"])
	if m != nil && m.Sign() > 0 {
		if integer {
			return []*big.Rat{new(big.Rat).SetInt(m.Num())}
		}
		return []*big.Rat{m}
	}
	if integer {
		return []*big.Rat{big.NewRat(1, 1)}
	}
	return []*big.Rat{big.NewRat(1, 100), big.NewRat(1, 1_000_000)}
}

// multiple picks k·step within the bounds. An open side reaches about 1000
// past the other bound or 0, whichever is further (0 to 1000 when both
// are open), and a range wider than that span is narrowed to it, from 0
// when 0 is inside: values look like values, not like bounds.
func (g *gen) multiple(lo, hi *big.Rat, loEx, hiEx bool, step *big.Rat) (*big.Rat, bool) {
	span := spanOf(step)
	var kmin, kmax *big.Int
	if lo != nil {
		kmin = ceilDiv(lo, step, loEx)
	}
	if hi != nil {
		kmax = floorDiv(hi, step, hiEx)
	}
	switch {
	case kmin == nil && kmax == nil:
		kmin, kmax = new(big.Int), span
	case kmin == nil:
		kmin = new(big.Int).Sub(minInt(kmax, new(big.Int)), span)
	case kmax == nil:
		kmax = new(big.Int).Add(maxInt(kmin, new(big.Int)), span)
	}
	if kmin.Cmp(kmax) > 0 {
		return nil, false
	}
	kmin, kmax = narrow(kmin, kmax, span)
	width := new(big.Int).Sub(kmax, kmin).Int64() + 1
	k := new(big.Int).Add(kmin, big.NewInt(g.r.Int64N(width)))
	return new(big.Rat).Mul(new(big.Rat).SetInt(k), step), true
}

// spanOf is how many steps make about 1000, from 10 to 1000000.
func spanOf(step *big.Rat) *big.Int {
	q := new(big.Rat).Quo(big.NewRat(1000, 1), step)
	n := new(big.Int).Quo(q.Num(), q.Denom())
	switch {
	case n.Cmp(big.NewInt(10)) < 0:
		return big.NewInt(10)
	case n.Cmp(big.NewInt(1_000_000)) > 0:
		return big.NewInt(1_000_000)
	}
	return n
}

// narrow cuts [kmin, kmax] to at most span+1 values: from 0 up when 0 is
// inside, else at the end nearer 0.
func narrow(kmin, kmax, span *big.Int) (*big.Int, *big.Int) {
	if new(big.Int).Sub(kmax, kmin).Cmp(span) <= 0 {
		return kmin, kmax
	}
	switch {
	case kmin.Sign() <= 0 && kmax.Sign() >= 0:
		return new(big.Int), span
	case kmax.Sign() < 0:
		return new(big.Int).Sub(kmax, span), kmax
	}
	return kmin, new(big.Int).Add(kmin, span)
}

func minInt(a, b *big.Int) *big.Int {
	if a.Cmp(b) < 0 {
		return a
	}
	return b
}

func maxInt(a, b *big.Int) *big.Int {
	if a.Cmp(b) > 0 {
		return a
	}
	return b
}

// ceilDiv is the least k with k·step ≥ x (> x when exclusive).
func ceilDiv(x, step *big.Rat, exclusive bool) *big.Int {
	k := floorDiv(x, step, false)
	if new(big.Rat).Mul(new(big.Rat).SetInt(k), step).Cmp(x) < 0 || exclusive {
		k.Add(k, big.NewInt(1))
	}
	return k
}

// floorDiv is the greatest k with k·step ≤ x (< x when exclusive).
func floorDiv(x, step *big.Rat, exclusive bool) *big.Int {
	q := new(big.Rat).Quo(x, step)
	k := new(big.Int).Div(q.Num(), q.Denom()) // Euclidean: the floor, as the denominator is positive
	if exclusive && q.IsInt() {
		k.Sub(k, big.NewInt(1))
	}
	return k
}

// decimal writes a rational with a finite decimal expansion exactly: each
// round divides a 2 and a 5 out of the denominator, one more digit.
func decimal(v *big.Rat) string {
	if v.IsInt() {
		return v.Num().String()
	}
	one, ten := big.NewInt(1), big.NewInt(10)
	d, digits := new(big.Int).Set(v.Denom()), 0
	for d.Cmp(one) != 0 && digits < 64 {
		f := new(big.Int).GCD(nil, nil, d, ten)
		if f.Cmp(one) == 0 {
			break // not a finite decimal: JSON numbers never make one
		}
		d.Quo(d, f)
		digits++
	}
	return v.FloatString(digits)
}

const letters = "abcdefghijklmnopqrstuvwxyz"

// word is lowercase letters, from lo to hi of them.
func (g *gen) word(lo, hi int64) string {
	n := lo
	if hi > lo {
		n += g.r.Int64N(hi - lo + 1)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[g.r.IntN(len(letters))]
	}
	return string(b)
}

// str generates a string: a pattern's from examples or default, a
// format's in that format, else letters within the lengths.
func (g *gen) str(s map[string]any, at []string) (any, error) {
	if p, ok := s["pattern"].(string); ok {
		return g.patterned(s, p, at)
	}
	lo, hi := max(intOf(s["minLength"], 0), 0), intOf(s["maxLength"], -1)
	if lo > maxSampleString {
		return nil, cannot(at, "minLength %d is more than the %d characters edkit generates", lo, maxSampleString)
	}
	if f, ok := s["format"].(string); ok {
		if v, ok := g.format(f); ok {
			return v, nil
		}
	}
	want := max(lo, 3)
	top := max(want, 12)
	if hi >= 0 {
		want, top = min(want, hi), min(top, hi)
	}
	if want < lo {
		return nil, cannot(at, "maxLength %d is below minLength %d", hi, lo)
	}
	return g.word(want, top), nil
}

// patterned takes a string for a pattern from what the schema offers:
// examples, default, and an OpenAPI-style example. Generating strings from
// ECMAScript regular expressions is left out on purpose: a wrong guess
// would be refused by validation anyway, and an example says what a real
// value looks like.
func (g *gen) patterned(s map[string]any, pattern string, at []string) (any, error) {
	re, reErr := regexp.Compile(pattern)
	var offers []string
	add := func(v any) {
		if str, ok := v.(string); ok && (reErr != nil || re.MatchString(str)) {
			offers = append(offers, str)
		}
	}
	if ex, ok := s["examples"].([]any); ok {
		for _, v := range ex {
			add(v)
		}
	}
	add(s["default"])
	add(s["example"])
	if len(offers) == 0 {
		return nil, cannot(at, "a string matching pattern %q: edkit does not invent strings for patterns; give the schema examples or a default, or the message an example", pattern)
	}
	return offers[g.r.IntN(len(offers))], nil
}

// format generates a string in a format the validator asserts.
func (g *gen) format(f string) (string, bool) {
	t := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.r.Int64N(10*365*24*3600)) * time.Second)
	switch f {
	case "date-time":
		return t.Format(time.RFC3339), true
	case "date":
		return t.Format(time.DateOnly), true
	case "time":
		return t.Format("15:04:05Z"), true
	case "email", "idn-email":
		return g.word(3, 10) + "@example.com", true
	case "uuid":
		return g.uuid(), true
	case "uri", "iri":
		return "https://example.com/" + g.word(3, 10), true
	case "uri-reference", "iri-reference":
		return "/" + g.word(3, 10), true
	case "hostname", "idn-hostname":
		return g.word(3, 10) + ".example.com", true
	case "ipv4":
		return fmt.Sprintf("10.%d.%d.%d", g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254)), true
	case "ipv6":
		return fmt.Sprintf("fd00::%x", 1+g.r.IntN(0xffff)), true
	case "duration":
		return fmt.Sprintf("PT%dS", 1+g.r.IntN(3600)), true
	}
	return "", false
}

// uuid is a random (version 4) UUID drawn from the generator.
func (g *gen) uuid() string {
	hi, lo := g.r.Uint64(), g.r.Uint64()
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// array generates items within minItems and maxItems (one to three more
// than the minimum, at least one when allowed), from prefixItems or a
// draft-7 items tuple, then items or additionalItems.
func (g *gen) array(s map[string]any, at []string, depth int) (any, error) {
	lo, hi := max(intOf(s["minItems"], 0), 0), intOf(s["maxItems"], -1)
	if lo > maxSampleItems {
		return nil, cannot(at, "minItems %d is more than the %d items edkit generates", lo, maxSampleItems)
	}
	tuple, rest := itemSchemas(s)
	top := lo + 3
	if rest == false {
		top = min(top, int64(len(tuple)))
	}
	if hi >= 0 {
		top = min(top, hi)
	}
	want := min(max(lo, 1), top)
	if want < lo {
		return nil, cannot(at, "no item count meets minItems %d, maxItems and the items allowed", lo)
	}
	n := want + g.r.Int64N(top-want+1)
	out := make([]any, 0, n)
	unique, _ := s["uniqueItems"].(bool)
	for i := range n {
		sch := rest
		if int(i) < len(tuple) {
			sch = tuple[i]
		}
		v, err := g.item(sch, out, unique, append(at, fmt.Sprint(i)), depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if c, ok := s["contains"]; ok && n > 0 {
		v, err := g.value(c, append(at, "0"), depth+1)
		if err != nil {
			return nil, err
		}
		out[0] = v
	}
	return out, nil
}

// item generates one array item, drawing again (a few times) for one that
// is not yet in the array when items must be unique.
func (g *gen) item(sch any, have []any, unique bool, at []string, depth int) (any, error) {
	for try := 0; ; try++ {
		v, err := g.value(sch, at, depth+1)
		if err != nil || !unique || try == 8 || !containsJSON(have, v) {
			return v, err
		}
	}
}

func containsJSON(have []any, v any) bool {
	b, _ := json.Marshal(v)
	for _, h := range have {
		if hb, _ := json.Marshal(h); string(hb) == string(b) {
			return true
		}
	}
	return false
}

// itemSchemas are an array's positional item schemas and the schema of
// the items after them (true when unconstrained).
func itemSchemas(s map[string]any) ([]any, any) {
	if prefix, ok := s["prefixItems"].([]any); ok {
		if items, ok := s["items"]; ok {
			return prefix, items
		}
		return prefix, true
	}
	if tuple, ok := s["items"].([]any); ok {
		if more, ok := s["additionalItems"]; ok {
			return tuple, more
		}
		return tuple, true
	}
	if items, ok := s["items"]; ok {
		return nil, items
	}
	return nil, true
}

// object generates an object: every required property, each optional one
// with even odds, and more optional ones (then additional ones) up to
// minProperties. Properties are visited in name order, so that a seed
// replays.
func (g *gen) object(s map[string]any, at []string, depth int) (any, error) {
	props, _ := s["properties"].(map[string]any)
	names := slices.Sorted(maps.Keys(props))
	minP, maxP := max(intOf(s["minProperties"], 0), 0), intOf(s["maxProperties"], -1)
	if minP > maxSampleItems {
		return nil, cannot(at, "minProperties %d is more than the %d properties edkit generates", minP, maxSampleItems)
	}
	out := map[string]any{}
	add := func(name string) error {
		sch, ok := props[name]
		if !ok {
			sch = additional(s)
		}
		v, err := g.value(sch, append(at, name), depth+1)
		out[name] = v
		return err
	}
	req, _ := s["required"].([]any)
	for _, r := range req {
		if name, ok := r.(string); ok {
			if err := add(name); err != nil {
				return nil, err
			}
		}
	}
	for _, name := range names {
		_, have := out[name]
		if !have && props[name] != false && (maxP < 0 || int64(len(out)) < maxP) && (g.r.IntN(2) == 0 || int64(len(out)) < minP) {
			if err := add(name); err != nil {
				return nil, err
			}
		}
	}
	for i := 0; int64(len(out)) < minP && s["additionalProperties"] != false; i++ {
		if err := add(fmt.Sprintf("field%d", i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// additional is the schema of a property not among properties.
func additional(s map[string]any) any {
	if a, ok := s["additionalProperties"]; ok {
		return a
	}
	return true
}
