package schema

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// typeSet is a set of JSON types. Numbers are split into integers and the
// rest, so that "number" is {integer, fraction} and widening integer to
// number adds fraction.
type typeSet uint8

const (
	tNull typeSet = 1 << iota
	tBoolean
	tObject
	tArray
	tString
	tInteger
	tFraction
	tAll = tNull | tBoolean | tObject | tArray | tString | tInteger | tFraction
)

func typeBits(name string) typeSet {
	switch name {
	case "null":
		return tNull
	case "boolean":
		return tBoolean
	case "object":
		return tObject
	case "array":
		return tArray
	case "string":
		return tString
	case "integer":
		return tInteger
	case "number":
		return tInteger | tFraction
	}
	return 0
}

// declared is the set of types a schema's "type" names; every type when it
// has none.
func declared(m map[string]any) (typeSet, bool) {
	switch t := m["type"].(type) {
	case string:
		return typeBits(t), true
	case []any:
		var s typeSet
		for _, e := range t {
			if n, ok := e.(string); ok {
				s |= typeBits(n)
			}
		}
		return s, true
	}
	return tAll, false
}

// valueType is the type of one JSON value.
func valueType(v any) typeSet {
	switch x := v.(type) {
	case nil:
		return tNull
	case bool:
		return tBoolean
	case map[string]any:
		return tObject
	case []any:
		return tArray
	case string:
		return tString
	case json.Number:
		if plainInteger(string(x)) {
			return tInteger
		}
		if r, ok := rat(x); ok && r.IsInt() {
			return tInteger
		}
		return tFraction
	}
	return 0
}

// effective narrows a schema's declared types to those of its enum or
// const values, when it has them: what a writer can actually produce.
func effective(m map[string]any, decl typeSet) typeSet {
	vals, _, has := allowed(m)
	if !has {
		return decl
	}
	var s typeSet
	for _, v := range vals {
		s |= valueType(v)
	}
	return decl & s
}

func (s typeSet) String() string {
	if s == tAll {
		return "any type"
	}
	var names []string
	for _, t := range []struct {
		bits typeSet
		name string
	}{{tNull, "null"}, {tBoolean, "boolean"}, {tObject, "object"}, {tArray, "array"}, {tString, "string"}} {
		if s&t.bits != 0 {
			names = append(names, t.name)
		}
	}
	switch s & (tInteger | tFraction) {
	case tInteger | tFraction:
		names = append(names, "number")
	case tInteger:
		names = append(names, "integer")
	case tFraction:
		names = append(names, "non-integer number")
	}
	if len(names) == 0 {
		return "no type"
	}
	return strings.Join(names, ", ")
}

// compareTypes compares "type" and returns the types both schemas accept
// of those the writer can produce: the types whose keywords matter.
func (cm *comparer) compareTypes(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) typeSet {
	declW, wHas := declared(wm)
	declR, _ := declared(rm)
	effW := effective(wm, declW)
	wp, rp := w.at("type"), r.at("type")
	switch {
	case effW&^declR == 0: // the reader accepts every type the writer produces
		if declR&^declW != 0 && declW&^declR == 0 {
			kind := SumTypeExtended
			if declR&^declW == tFraction {
				kind = TypeExtended
			}
			cm.diff(c, kind, wp, rp, fmt.Sprintf("type widened from %s to %s", declW, declR))
		}
	case declR&^declW == 0 && declR != declW: // the reader accepts fewer types
		kind := SumTypeNarrowed
		if declW&^declR == tFraction || !wHas {
			kind = TypeNarrowed
		}
		cm.diff(c, kind, wp, rp, fmt.Sprintf("type narrowed from %s to %s: %s", declW, declR, cm.breaks()))
	default:
		cm.diff(c, TypeChanged, wp, rp, fmt.Sprintf("type changed from %s to %s: %s", effW, declR, cm.breaks()))
	}
	return effW & declR
}

// allowed is the set of values a schema's enum and const allow, and the
// keyword that says so; has is false when it has neither.
func allowed(m map[string]any) (vals []any, kw string, has bool) {
	enum, isEnum := m["enum"].([]any)
	cv, isConst := m["const"]
	switch {
	case isEnum && isConst:
		for _, v := range enum {
			if equal(v, cv) {
				return []any{cv}, "const", true
			}
		}
		return nil, "const", true
	case isConst:
		return []any{cv}, "const", true
	case isEnum:
		return enum, "enum", true
	}
	return nil, "", false
}

// compareEnum compares enum and const as sets of allowed values.
func (cm *comparer) compareEnum(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	wv, wkw, wHas := allowed(wm)
	rv, rkw, rHas := allowed(rm)
	switch {
	case !wHas && !rHas:
		return
	case !rHas:
		cm.diff(c, EnumArrayExtended, w.at(wkw), r.at(wkw), fmt.Sprintf("the %s schema no longer restricts values to its %s", cm.rl, wkw))
		return
	case !wHas:
		cm.diff(c, EnumArrayNarrowed, w.at(rkw), r.at(rkw), fmt.Sprintf("the %s schema restricts values to %s %s: %s", cm.rl, rkw, jsonvalue.Render(rv), cm.breaks()))
		return
	}
	wset, rset := valueSet(wv), valueSet(rv)
	var gone, added []any
	for _, v := range wv {
		if !rset[canonical(v)] {
			gone = append(gone, v)
		}
	}
	for _, v := range rv {
		if !wset[canonical(v)] {
			added = append(added, v)
		}
	}
	wp, rp := w.at(wkw), r.at(rkw)
	switch {
	case len(gone) == 0 && len(added) == 0:
	case len(gone) == 0:
		cm.diff(c, EnumArrayExtended, wp, rp, "values added: "+jsonvalue.Render(added))
	case len(added) == 0:
		cm.diff(c, EnumArrayNarrowed, wp, rp, "values removed: "+jsonvalue.Render(gone)+": "+cm.breaks())
	default:
		cm.diff(c, EnumArrayChanged, wp, rp, "values removed: "+jsonvalue.Render(gone)+", added: "+jsonvalue.Render(added)+": "+cm.breaks())
	}
}

func valueSet(vals []any) map[string]bool {
	s := make(map[string]bool, len(vals))
	for _, v := range vals {
		s[canonical(v)] = true
	}
	return s
}
