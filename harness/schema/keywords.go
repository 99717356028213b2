package schema

import (
	"fmt"
	"math/big"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// limit names the kinds of one numeric keyword's four changes, and
// whether a larger value accepts more (maxLength) or less (minLength).
type limit struct {
	kw                                   string
	added, removed, increased, decreased Kind
}

// compareLimit compares one numeric keyword, such as maxLength.
func (cm *comparer) compareLimit(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any, l limit) {
	wv, wHas := wm[l.kw]
	rv, rHas := rm[l.kw]
	wp, rp := w.at(l.kw), r.at(l.kw)
	if !wHas && !rHas {
		return
	}
	var kind Kind
	var what string
	switch {
	case !wHas:
		kind, what = l.added, fmt.Sprintf("%s %s added", l.kw, jsonvalue.Render(rv))
	case !rHas:
		kind, what = l.removed, fmt.Sprintf("%s %s removed", l.kw, jsonvalue.Render(wv))
	default:
		wr, ok1 := rat(wv)
		rr, ok2 := rat(rv)
		if !ok1 || !ok2 {
			if !equal(wv, rv) {
				cm.note(c, l.kw, wp, rp, fmt.Sprintf("%s changed from %s to %s: not analysed", l.kw, jsonvalue.Render(wv), jsonvalue.Render(rv)))
			}
			return
		}
		switch wr.Cmp(rr) {
		case 0:
			return
		case -1:
			kind = l.increased
		default:
			kind = l.decreased
		}
		what = fmt.Sprintf("%s changed from %s to %s", l.kw, jsonvalue.Render(wv), jsonvalue.Render(rv))
	}
	if !compatibleKind(kind) {
		what += ": " + cm.breaks()
	}
	cm.diff(c, kind, wp, rp, what)
}

func (cm *comparer) compareString(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	cm.compareLimit(c, w, wm, r, rm, limit{"maxLength", MaxLengthAdded, MaxLengthRemoved, MaxLengthIncreased, MaxLengthDecreased})
	cm.compareLimit(c, w, wm, r, rm, limit{"minLength", MinLengthAdded, MinLengthRemoved, MinLengthIncreased, MinLengthDecreased})
	wv, wHas := wm["pattern"].(string)
	rv, rHas := rm["pattern"].(string)
	wp, rp := w.at("pattern"), r.at("pattern")
	switch {
	case !wHas && rHas:
		cm.diff(c, PatternAdded, wp, rp, "pattern "+quote(rv)+" added: "+cm.breaks())
	case wHas && !rHas:
		cm.diff(c, PatternRemoved, wp, rp, "pattern "+quote(wv)+" removed")
	case wHas && wv != rv:
		cm.diff(c, PatternChanged, wp, rp, "pattern changed from "+quote(wv)+" to "+quote(rv)+": "+cm.breaks())
	}
}

func (cm *comparer) compareNumber(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	cm.compareLimit(c, w, wm, r, rm, limit{"maximum", MaximumAdded, MaximumRemoved, MaximumIncreased, MaximumDecreased})
	cm.compareLimit(c, w, wm, r, rm, limit{"minimum", MinimumAdded, MinimumRemoved, MinimumIncreased, MinimumDecreased})
	cm.compareLimit(c, w, wm, r, rm, limit{"exclusiveMaximum", ExclusiveMaximumAdded, ExclusiveMaximumRemoved,
		ExclusiveMaximumIncreased, ExclusiveMaximumDecreased})
	cm.compareLimit(c, w, wm, r, rm, limit{"exclusiveMinimum", ExclusiveMinimumAdded, ExclusiveMinimumRemoved,
		ExclusiveMinimumIncreased, ExclusiveMinimumDecreased})
	wv, wHas := wm["multipleOf"]
	rv, rHas := rm["multipleOf"]
	wp, rp := w.at("multipleOf"), r.at("multipleOf")
	switch {
	case !wHas && !rHas:
	case !wHas:
		cm.diff(c, MultipleOfAdded, wp, rp, "multipleOf "+jsonvalue.Render(rv)+" added: "+cm.breaks())
	case !rHas:
		cm.diff(c, MultipleOfRemoved, wp, rp, "multipleOf "+jsonvalue.Render(wv)+" removed")
	default:
		wr, ok1 := rat(wv)
		rr, ok2 := rat(rv)
		if !ok1 || !ok2 || wr.Sign() <= 0 || rr.Sign() <= 0 {
			if !equal(wv, rv) {
				cm.note(c, "multipleOf", wp, rp, "multipleOf changed from "+jsonvalue.Render(wv)+" to "+jsonvalue.Render(rv)+": not analysed")
			}
			return
		}
		if wr.Cmp(rr) == 0 {
			return
		}
		what := "multipleOf changed from " + jsonvalue.Render(wv) + " to " + jsonvalue.Render(rv)
		switch {
		case new(big.Rat).Quo(rr, wr).IsInt(): // every multiple of the new is one of the old: fewer values
			cm.diff(c, MultipleOfExpanded, wp, rp, what+": "+cm.breaks())
		case new(big.Rat).Quo(wr, rr).IsInt():
			cm.diff(c, MultipleOfReduced, wp, rp, what)
		default:
			cm.diff(c, MultipleOfChanged, wp, rp, what+": "+cm.breaks())
		}
	}
}

func (cm *comparer) compareArray(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	_, wTuple := wm["items"].([]any)
	_, rTuple := rm["items"].([]any)
	if wTuple || rTuple || hasAny(wm, "prefixItems", "additionalItems") || hasAny(rm, "prefixItems", "additionalItems") {
		if !equal(wm["items"], rm["items"]) || containsRef(wm["items"]) || containsRef(rm["items"]) {
			cm.note(c, "items", w.at("items"), r.at("items"), "tuple items (prefixItems, items as an array, additionalItems) are not analysed")
		}
	} else {
		wi, wHas := wm["items"]
		ri, rHas := rm["items"]
		wHas = wHas && !acceptsAll(wi)
		rHas = rHas && !acceptsAll(ri)
		wp, rp := w.at("items"), r.at("items")
		switch {
		case wHas && rHas:
			cm.compare(c, loc{wi, wp}, loc{ri, rp})
		case wHas:
			cm.diff(c, SchemaRemoved, wp, rp, fmt.Sprintf("the %s schema no longer constrains the items", cm.rl))
		case rHas:
			cm.diff(c, SchemaAdded, wp, rp, fmt.Sprintf("the %s schema constrains the items, the %s did not: %s", cm.rl, cm.wl, cm.breaks()))
		}
	}
	cm.compareLimit(c, w, wm, r, rm, limit{"maxItems", MaxItemsAdded, MaxItemsRemoved, MaxItemsIncreased, MaxItemsDecreased})
	cm.compareLimit(c, w, wm, r, rm, limit{"minItems", MinItemsAdded, MinItemsRemoved, MinItemsIncreased, MinItemsDecreased})
	wu, ru := wm["uniqueItems"] == true, rm["uniqueItems"] == true
	switch {
	case wu && !ru:
		cm.diff(c, UniqueItemsRemoved, w.at("uniqueItems"), r.at("uniqueItems"), "uniqueItems removed")
	case !wu && ru:
		cm.diff(c, UniqueItemsAdded, w.at("uniqueItems"), r.at("uniqueItems"), "uniqueItems added: "+cm.breaks())
	}
}

func hasAny(m map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// containsRef reports whether a value holds a $ref anywhere: two equal
// texts may then still mean different schemas.
func containsRef(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "$ref" || k == "$dynamicRef" || k == "$recursiveRef" || containsRef(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if containsRef(e) {
				return true
			}
		}
	}
	return false
}
