package schema

import (
	"fmt"
	"strconv"
)

var combinators = []string{"allOf", "anyOf", "oneOf"}

// pureCombinator reports a schema that is only a combinator: one of
// allOf, anyOf and oneOf, beside annotations.
func pureCombinator(m map[string]any) (string, []any, bool) {
	kw := ""
	for _, k := range combinators {
		if _, ok := m[k]; ok {
			if kw != "" {
				return "", nil, false
			}
			kw = k
		}
	}
	list, ok := m[kw].([]any)
	if kw == "" || !ok || len(list) == 0 || assertsBeside(m, kw) {
		return "", nil, false
	}
	return kw, list, true
}

// wrapper compares a pair where one side (or both) is only a combinator,
// as the registry's SchemaDiff does before comparing keywords. It reports
// whether it did.
func (cm *comparer) wrapper(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) bool {
	wk, wlist, wPure := pureCombinator(wm)
	rk, rlist, rPure := pureCombinator(rm)
	switch {
	case wPure && rPure:
		cm.compareCombined(c, w, wk, wlist, r, rk, rlist)
	case wPure && len(wlist) == 1:
		cm.compare(c, loc{wlist[0], w.at(wk, "0")}, r)
	case rPure && len(rlist) == 1:
		cm.compare(c, w, loc{rlist[0], r.at(rk, "0")})
	case rPure:
		cm.readerCombined(c, w, r, rk, rlist)
	case wPure:
		cm.writerCombined(c, w, wk, wlist, r)
	default:
		return false
	}
	return true
}

// readerCombined: the reader is anyOf/oneOf/allOf of several schemas, the
// writer is none.
func (cm *comparer) readerCombined(c *ctx, w, r loc, rk string, rlist []any) {
	if rk == "allOf" { // every part must accept what the writer allows
		for j, alt := range rlist {
			cm.compare(c, w, loc{alt, r.at(rk, strconv.Itoa(j))})
		}
		return
	}
	for j, alt := range rlist {
		if sub := cm.trial(w, loc{alt, r.at(rk, strconv.Itoa(j))}); sub.compatible() {
			c.add(sub)
			cm.diff(c, SumTypeExtended, w.p, r.at(rk), fmt.Sprintf("the %s schema became a %s whose alternative %s accepts what the %s allowed",
				cm.rl, rk, ShowPointer(r.at(rk, strconv.Itoa(j))), cm.wl))
			return
		}
	}
	cm.diff(c, TypeChanged, w.p, r.at(rk), fmt.Sprintf("no alternative of the %s schema's %s accepts every value the %s schema allows: %s",
		cm.rl, rk, cm.wl, cm.breaks()))
}

// writerCombined: the writer is anyOf/oneOf/allOf of several schemas, the
// reader is none.
func (cm *comparer) writerCombined(c *ctx, w loc, wk string, wlist []any, r loc) {
	if wk == "allOf" { // what the writer allows meets every part: one part the reader accepts is enough
		for i, alt := range wlist {
			if sub := cm.trial(loc{alt, w.at(wk, strconv.Itoa(i))}, r); sub.compatible() {
				c.add(sub)
				return
			}
		}
		cm.note(c, "allOf", w.at(wk), r.p, fmt.Sprintf("the %s schema's allOf against a schema that is not one: not analysed", cm.wl))
		return
	}
	bad := -1
	for i, alt := range wlist {
		sub := cm.trial(loc{alt, w.at(wk, strconv.Itoa(i))}, r)
		c.add(sub)
		if bad < 0 && !sub.compatible() {
			bad = i
		}
	}
	if bad >= 0 {
		cm.diff(c, SumTypeNarrowed, w.at(wk, strconv.Itoa(bad)), r.p, fmt.Sprintf("the %s schema is no longer a %s, and rejects values of the %s schema's alternative %s: %s",
			cm.rl, wk, cm.wl, ShowPointer(w.at(wk, strconv.Itoa(bad))), cm.breaks()))
		return
	}
	cm.diff(c, CombinedTypeExtended, w.at(wk), r.p, fmt.Sprintf("the %s schema is no longer a %s; it accepts every alternative of the %s one", cm.rl, wk, cm.wl))
}

// compareCombined compares two lists of subschemas as the registry's
// CombinedSchemaDiff does: the criterion, the sizes, then a matching of
// each writer's alternative to a distinct reader's alternative that
// accepts it.
func (cm *comparer) compareCombined(c *ctx, w loc, wk string, wlist []any, r loc, rk string, rlist []any) {
	wp, rp := w.at(wk), r.at(rk)
	if wk != rk {
		switch {
		case rk == "anyOf",
			rk == "oneOf" && len(wlist) == 1,
			rk == "allOf" && len(wlist) == 1 && len(rlist) == 1:
			cm.diff(c, CombinedTypeExtended, wp, rp, wk+" became "+rk)
		default:
			cm.diff(c, CombinedTypeChanged, wp, rp, wk+" became "+rk+": "+cm.breaks())
			return
		}
	}
	wi, ri := distinct(wlist), distinct(rlist)
	product := rk == "allOf"
	switch {
	case len(wi) < len(ri) && product:
		cm.diff(c, ProductTypeExtended, wp, rp, fmt.Sprintf("allOf grew from %d to %d schemas: %s", len(wi), len(ri), cm.breaks()))
	case len(wi) < len(ri):
		cm.diff(c, SumTypeExtended, wp, rp, fmt.Sprintf("%s grew from %d to %d alternatives", rk, len(wi), len(ri)))
	case len(wi) > len(ri) && product:
		cm.diff(c, ProductTypeNarrowed, wp, rp, fmt.Sprintf("allOf shrank from %d to %d schemas", len(wi), len(ri)))
	case len(wi) > len(ri):
		cm.diff(c, SumTypeNarrowed, wp, rp, fmt.Sprintf("%s shrank from %d to %d alternatives: %s", rk, len(wi), len(ri), cm.breaks()))
	}
	edges := make([][]*ctx, len(wi))
	for a, i := range wi {
		edges[a] = make([]*ctx, len(ri))
		for b, j := range ri {
			if sub := cm.trial(loc{wlist[i], w.at(wk, strconv.Itoa(i))}, loc{rlist[j], r.at(rk, strconv.Itoa(j))}); sub.compatible() {
				edges[a][b] = sub
			}
		}
	}
	match := maxMatching(edges, len(ri))
	matched := 0
	unmatched := -1
	for a, b := range match {
		if b >= 0 {
			c.add(edges[a][b])
			matched++
		} else if unmatched < 0 {
			unmatched = wi[a]
		}
	}
	if matched < min(len(wi), len(ri)) {
		why := "no one-to-one pairing of the alternatives keeps every one compatible"
		if unmatched >= 0 {
			why = fmt.Sprintf("no alternative of the %s schema is paired with the %s schema's %s", cm.rl, cm.wl, ShowPointer(w.at(wk, strconv.Itoa(unmatched))))
		}
		cm.diff(c, CombinedTypeSubschemasChanged, wp, rp, why+": "+cm.breaks())
	}
}

// distinct returns the indexes of the first of each distinct subschema, as
// the registry collapses repeated ones.
func distinct(list []any) []int {
	seen := map[string]bool{}
	var out []int
	for i, v := range list {
		k := canonical(v)
		if !seen[k] {
			seen[k] = true
			out = append(out, i)
		}
	}
	return out
}

// maxMatching finds a maximum matching of the bipartite graph edges (left
// a to right b where edges[a][b] != nil) by augmenting paths; it returns
// the right partner of each left vertex, or -1.
func maxMatching(edges [][]*ctx, right int) []int {
	matchL := make([]int, len(edges))
	matchR := make([]int, right)
	for i := range matchL {
		matchL[i] = -1
	}
	for i := range matchR {
		matchR[i] = -1
	}
	var try func(a int, seen []bool) bool
	try = func(a int, seen []bool) bool {
		for b := range right {
			if edges[a][b] == nil || seen[b] {
				continue
			}
			seen[b] = true
			if matchR[b] < 0 || try(matchR[b], seen) {
				matchL[a], matchR[b] = b, a
				return true
			}
		}
		return false
	}
	for a := range edges {
		try(a, make([]bool, right))
	}
	return matchL
}

// compareCombinators compares the combinators of schemas that have other
// keywords too.
func (cm *comparer) compareCombinators(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	for _, kw := range combinators {
		wlist, wHas := wm[kw].([]any)
		rlist, rHas := rm[kw].([]any)
		switch {
		case wHas && rHas:
			cm.compareCombined(c, w, kw, wlist, r, kw, rlist)
		case wHas:
			cm.note(c, kw, w.at(kw), r.at(kw), kw+" removed beside other keywords: not analysed")
		case rHas:
			cm.note(c, kw, w.at(kw), r.at(kw), kw+" added beside other keywords: not analysed")
		}
	}
}

// known are the keywords a validator reads (every draft's); a keyword not
// among them constrains nothing, so it cannot break compatibility.
var known = map[string]bool{
	"type": true, "enum": true, "const": true,
	"maxLength": true, "minLength": true, "pattern": true, "format": true,
	"maximum": true, "minimum": true, "exclusiveMaximum": true, "exclusiveMinimum": true, "multipleOf": true,
	"properties": true, "required": true, "additionalProperties": true, "patternProperties": true,
	"maxProperties": true, "minProperties": true, "dependentRequired": true, "dependentSchemas": true,
	"dependencies": true, "propertyNames": true, "unevaluatedProperties": true,
	"items": true, "prefixItems": true, "additionalItems": true, "maxItems": true, "minItems": true,
	"uniqueItems": true, "contains": true, "minContains": true, "maxContains": true, "unevaluatedItems": true,
	"allOf": true, "anyOf": true, "oneOf": true, "not": true, "if": true, "then": true, "else": true,
	"$ref": true, "$dynamicRef": true, "$recursiveRef": true,
	"contentSchema": true,
}

// unanalysedKeywords are the keywords a validator reads that this package
// does not compare: a change to one is a Note. ($schema is here because a
// draft changes what other keywords mean.)
var unanalysedKeywords = []string{
	"$schema", "format", "propertyNames", "contains", "minContains", "maxContains",
	"not", "if", "then", "else", "prefixItems", "additionalItems", "unevaluatedItems",
	"$dynamicRef", "$recursiveRef", "contentSchema",
}

// unanalysed notes each unanalysed keyword that differs, or that holds a
// $ref (whose target may differ though its text does not).
func (cm *comparer) unanalysed(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	for _, kw := range unanalysedKeywords {
		wv, wHas := wm[kw]
		rv, rHas := rm[kw]
		if !wHas && !rHas {
			continue
		}
		if wHas && rHas && equal(wv, rv) && !containsRef(wv) && kw != "$dynamicRef" && kw != "$recursiveRef" {
			continue
		}
		what := "changed"
		switch {
		case !wHas:
			what = "added"
		case !rHas:
			what = "removed"
		case equal(wv, rv):
			what = "refers to other schemas"
		}
		cm.note(c, kw, w.at(kw), r.at(kw), fmt.Sprintf("%s %s: not analysed", kw, what))
	}
}
