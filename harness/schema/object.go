package schema

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

func members(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return nil
}

func names(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, e := range a {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (cm *comparer) compareObject(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	wp, rp := members(wm["properties"]), members(rm["properties"])
	cm.compareProperties(c, w, wm, wp, r, rm, rp)
	cm.compareRequired(c, w, wm, wp, r, rm, rp)
	cm.compareAdditional(c, w, wm, r, rm)
	cm.comparePatterns(c, w, wm, r, rm)
	cm.compareLimit(c, w, wm, r, rm, limit{"maxProperties", MaxPropertiesAdded, MaxPropertiesRemoved, MaxPropertiesIncreased, MaxPropertiesDecreased})
	cm.compareLimit(c, w, wm, r, rm, limit{"minProperties", MinPropertiesAdded, MinPropertiesRemoved, MinPropertiesIncreased, MinPropertiesDecreased})
	cm.compareDependencies(c, w, wm, r, rm)
	wu, wHas := wm["unevaluatedProperties"]
	ru, rHas := rm["unevaluatedProperties"]
	if (wHas && !acceptsAll(wu)) || (rHas && !acceptsAll(ru)) {
		cm.note(c, "unevaluatedProperties", w.at("unevaluatedProperties"), r.at("unevaluatedProperties"),
			"unevaluatedProperties is not analysed: properties added or removed were judged as if it were absent")
	}
}

// coverage is how an object schema treats a property it does not declare.
type coverage int

const (
	open    coverage = iota // any value (additionalProperties absent or true)
	closed                  // none (additionalProperties: false)
	partial                 // a schema: a pattern property's or additionalProperties'
)

// cover says how the object schema m at l treats the undeclared property
// name, and the schema that judges it when partial.
func (cm *comparer) cover(m map[string]any, l loc, name string) (coverage, loc) {
	for _, pat := range slices.Sorted(maps.Keys(members(m["patternProperties"]))) {
		re, ok := cm.regexps[pat]
		if !ok {
			re, _ = regexp.Compile(pat) // nil when Go cannot read it: the compiler has accepted it, so rare
			cm.regexps[pat] = re
		}
		if re != nil && re.MatchString(name) {
			return partial, loc{members(m["patternProperties"])[pat], l.at("patternProperties", pat)}
		}
	}
	ap, has := m["additionalProperties"]
	switch {
	case !has || acceptsAll(ap):
		return open, loc{}
	case ap == false:
		return closed, loc{}
	}
	return partial, loc{ap, l.at("additionalProperties")}
}

// hasDefault reports whether a property's schema gives a default,
// following $refs.
func hasDefault(doc, v any) bool {
	for range maxRefHops {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["default"]; ok {
			return true
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return false
		}
		if v, _, ok = resolve(doc, ref); !ok {
			return false
		}
	}
	return false
}

func (cm *comparer) compareProperties(c *ctx, w loc, wm, wp map[string]any, r loc, rm, rp map[string]any) {
	all := jsonvalue.UnionKeys(wp, rp)
	required := names(rm["required"])
	for _, name := range all {
		wv, inW := wp[name]
		rv, inR := rp[name]
		wl, rl := loc{wv, w.at("properties", name)}, loc{rv, r.at("properties", name)}
		switch {
		case inW && inR:
			cm.compare(c, wl, rl)
		case inW:
			cm.propertyRemoved(c, name, wl, rm, r, rl.p)
		default:
			cm.propertyAdded(c, name, wm, w, wl.p, rl, slices.Contains(required, name))
		}
	}
}

// propertyRemoved judges a property the reader no longer declares: its
// content model must still accept what the writer wrote there.
func (cm *comparer) propertyRemoved(c *ctx, name string, wl loc, rm map[string]any, r loc, rp string) {
	cov, by := cm.cover(rm, r, name)
	switch cov {
	case open:
		cm.diff(c, PropertyRemovedFromOpenContentModel, wl.p, rp,
			fmt.Sprintf("property %s removed; the %s schema's open content model still accepts it", quote(name), cm.rl))
	case partial:
		sub := cm.trial(wl, by)
		c.add(sub)
		if sub.compatible() {
			cm.diff(c, PropertyRemovedIsCoveredByPartiallyOpen, wl.p, rp,
				fmt.Sprintf("property %s removed; the %s schema's %s accepts it", quote(name), cm.rl, ShowPointer(by.p)))
		} else {
			cm.diff(c, PropertyRemovedNotCoveredByPartiallyOpen, wl.p, rp,
				fmt.Sprintf("property %s removed, and the %s schema's %s does not accept every value it had: %s", quote(name), cm.rl, ShowPointer(by.p), cm.breaks()))
		}
	case closed:
		if wl.v == false {
			cm.diff(c, PropertyWithFalseRemovedFromClosedContentModel, wl.p, rp,
				fmt.Sprintf("property %s (false: never present) removed", quote(name)))
			return
		}
		cm.diff(c, PropertyRemovedFromClosedContentModel, wl.p, rp,
			fmt.Sprintf("property %s removed from a closed content model (additionalProperties: false): data written with the %s schema may carry it, the %s rejects it",
				quote(name), cm.wl, cm.rl))
	}
}

// propertyAdded judges a property the writer did not declare.
func (cm *comparer) propertyAdded(c *ctx, name string, wm map[string]any, w loc, wp string, rl loc, required bool) {
	cov, by := cm.cover(wm, w, name)
	def := hasDefault(cm.rdoc, rl.v)
	if cov == open {
		var kind Kind
		switch {
		case acceptsAll(rl.v):
			cm.diff(c, PropertyWithEmptySchemaAddedToOpenContentModel, wp, rl.p,
				fmt.Sprintf("property %s added with a schema that accepts any value", quote(name)))
			return
		case required && def:
			kind = RequiredPropertyWithDefaultAddedToOpenContentModel
		case required:
			kind = RequiredPropertyAddedToOpenContentModel
		default:
			kind = OptionalPropertyAddedToOpenContentModel
		}
		cm.diff(c, kind, wp, rl.p, fmt.Sprintf(
			"property %s added, but the %s schema's content model is open: data written with it may already carry %s with any value (close it with additionalProperties: false first)",
			quote(name), cm.wl, quote(name)))
		return
	}
	if cov == partial {
		sub := cm.trial(by, rl)
		c.add(sub)
		if sub.compatible() {
			cm.diff(c, PropertyAddedIsCoveredByPartiallyOpen, wp, rl.p,
				fmt.Sprintf("property %s added; it accepts everything the %s schema's %s allowed", quote(name), cm.wl, ShowPointer(by.p)))
		} else {
			cm.diff(c, PropertyAddedNotCoveredByPartiallyOpen, wp, rl.p,
				fmt.Sprintf("property %s added, but it rejects values the %s schema's %s allowed: %s", quote(name), cm.wl, ShowPointer(by.p), cm.breaks()))
		}
	}
	switch {
	case required && def:
		cm.diff(c, RequiredPropertyWithDefaultAddedToUnopenContent, wp, rl.p,
			fmt.Sprintf("required property %s added, with a default", quote(name)))
	case required:
		cm.diff(c, RequiredPropertyAddedToUnopenContentModel, wp, rl.p,
			fmt.Sprintf("required property %s added without a default: data written with the %s schema lacks it", quote(name), cm.wl))
	default:
		cm.diff(c, OptionalPropertyAddedToUnopenContentModel, wp, rl.p, fmt.Sprintf("optional property %s added", quote(name)))
	}
}

// compareRequired compares required for the properties both schemas
// declare and those neither does; a property added or removed is judged
// with its content model above.
func (cm *comparer) compareRequired(c *ctx, w loc, wm, wp map[string]any, r loc, rm, rp map[string]any) {
	wr, rr := names(wm["required"]), names(rm["required"])
	for i, name := range rr {
		_, inW := wp[name]
		_, inR := rp[name]
		if slices.Contains(wr, name) || (inR && !inW) || slices.Index(rr, name) != i {
			continue
		}
		wpp, rpp := w.at("required"), r.at("required", strconv.Itoa(i))
		if hasDefault(cm.rdoc, rp[name]) {
			cm.diff(c, RequiredAttributeWithDefaultAdded, wpp, rpp, fmt.Sprintf("property %s became required, with a default", quote(name)))
			continue
		}
		cm.diff(c, RequiredAttributeAdded, wpp, rpp,
			fmt.Sprintf("property %s became required: data written with the %s schema may lack it", quote(name), cm.wl))
	}
	for i, name := range wr {
		_, inW := wp[name]
		_, inR := rp[name]
		if slices.Contains(rr, name) || (inW && !inR) || slices.Index(wr, name) != i {
			continue
		}
		cm.diff(c, RequiredAttributeRemoved, w.at("required", strconv.Itoa(i)), r.at("required"),
			fmt.Sprintf("property %s is no longer required", quote(name)))
	}
}

func (cm *comparer) compareAdditional(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	wv, wHas := wm["additionalProperties"]
	rv, rHas := rm["additionalProperties"]
	wPermits, rPermits := !wHas || wv != false, !rHas || rv != false
	wSchema, rSchema := wHas && wPermits && !acceptsAll(wv), rHas && rPermits && !acceptsAll(rv)
	wp, rp := w.at("additionalProperties"), r.at("additionalProperties")
	switch {
	case wPermits && !rPermits:
		cm.diff(c, AdditionalPropertiesRemoved, wp, rp,
			fmt.Sprintf("the %s schema no longer allows undeclared properties (additionalProperties: false): %s", cm.rl, cm.breaks()))
	case !wPermits && rPermits:
		cm.diff(c, AdditionalPropertiesAdded, wp, rp, fmt.Sprintf("the %s schema allows undeclared properties", cm.rl))
	case !wSchema && rSchema:
		cm.diff(c, AdditionalPropertiesNarrowed, wp, rp,
			fmt.Sprintf("the %s schema constrains undeclared properties, the %s did not: %s", cm.rl, cm.wl, cm.breaks()))
	case wSchema && !rSchema && rPermits:
		cm.diff(c, AdditionalPropertiesExtended, wp, rp, fmt.Sprintf("the %s schema no longer constrains undeclared properties", cm.rl))
	case wSchema && rSchema:
		cm.compare(c, loc{wv, wp}, loc{rv, rp})
	}
}

func (cm *comparer) comparePatterns(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	wpp, rpp := members(wm["patternProperties"]), members(rm["patternProperties"])
	for _, pat := range jsonvalue.UnionKeys(wpp, rpp) {
		wv, inW := wpp[pat]
		rv, inR := rpp[pat]
		wp, rp := w.at("patternProperties", pat), r.at("patternProperties", pat)
		switch {
		case inW && inR:
			cm.compare(c, loc{wv, wp}, loc{rv, rp})
		case inW:
			cm.note(c, "patternProperties", wp, rp, "pattern property "+quote(pat)+" removed: not analysed")
		default:
			cm.note(c, "patternProperties", wp, rp, "pattern property "+quote(pat)+" added: not analysed")
		}
	}
}

// dependency is one entry of dependentRequired, dependentSchemas or
// (draft 7 and before) dependencies.
type dependency struct {
	kw    string
	array []string
	v     any
}

// dependencies splits a schema's dependencies into the property lists and
// the schemas.
func dependencies(m map[string]any) (arrays, schemas map[string]dependency) {
	arrays, schemas = map[string]dependency{}, map[string]dependency{}
	for _, kw := range []string{"dependencies", "dependentRequired", "dependentSchemas"} {
		for name, v := range members(m[kw]) {
			if _, isArray := v.([]any); isArray {
				arrays[name] = dependency{kw: kw, array: names(v)}
			} else {
				schemas[name] = dependency{kw: kw, v: v}
			}
		}
	}
	return arrays, schemas
}

func (cm *comparer) compareDependencies(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	wa, ws := dependencies(wm)
	ra, rs := dependencies(rm)
	for _, name := range jsonvalue.UnionKeys(wa, ra) {
		wd, inW := wa[name]
		rd, inR := ra[name]
		wp, rp := depPlaces(w, wd, inW, r, rd, inR, name)
		switch {
		case !inR:
			cm.diff(c, DependencyArrayRemoved, wp, rp, fmt.Sprintf("the properties %s required with %s are no longer required", jsonvalue.Render(toAny(wd.array)), quote(name)))
		case !inW:
			cm.diff(c, DependencyArrayAdded, wp, rp, fmt.Sprintf("%s now requires %s: %s", quote(name), jsonvalue.Render(toAny(rd.array)), cm.breaks()))
		default:
			more, fewer := subset(wd.array, rd.array), subset(rd.array, wd.array)
			switch {
			case more && fewer:
			case more:
				cm.diff(c, DependencyArrayExtended, wp, rp, fmt.Sprintf("%s now requires %s: %s", quote(name), jsonvalue.Render(toAny(rd.array)), cm.breaks()))
			case fewer:
				cm.diff(c, DependencyArrayNarrowed, wp, rp, fmt.Sprintf("%s now requires only %s", quote(name), jsonvalue.Render(toAny(rd.array))))
			default:
				cm.diff(c, DependencyArrayChanged, wp, rp, fmt.Sprintf("%s now requires %s instead of %s: %s", quote(name), jsonvalue.Render(toAny(rd.array)), jsonvalue.Render(toAny(wd.array)), cm.breaks()))
			}
		}
	}
	for _, name := range jsonvalue.UnionKeys(ws, rs) {
		wd, inW := ws[name]
		rd, inR := rs[name]
		wp, rp := depPlaces(w, wd, inW, r, rd, inR, name)
		switch {
		case !inR:
			cm.diff(c, DependencySchemaRemoved, wp, rp, fmt.Sprintf("the schema that applies with %s was removed", quote(name)))
		case !inW:
			cm.diff(c, DependencySchemaAdded, wp, rp, fmt.Sprintf("a schema now applies with %s: %s", quote(name), cm.breaks()))
		default:
			cm.compare(c, loc{wd.v, wp}, loc{rd.v, rp})
		}
	}
}

// depPlaces is where a dependency is, or would be, on each side.
func depPlaces(w loc, wd dependency, inW bool, r loc, rd dependency, inR bool, name string) (string, string) {
	if !inW {
		wd.kw = rd.kw
	}
	if !inR {
		rd.kw = wd.kw
	}
	return w.at(wd.kw, name), r.at(rd.kw, name)
}

// subset reports whether every name of a is in b.
func subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
