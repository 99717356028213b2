package schema

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// maxSteps bounds one check: the number of distinct pairs of subschemas
// compared. Combinators compare every alternative with every other, so a
// hostile pair of schemas could otherwise take hours; a real event schema
// needs a few hundred.
const maxSteps = 50_000

// maxRefHops bounds a chain of $refs that lead to $refs.
const maxRefHops = 64

// Compatible checks whether newer may follow older under mode: Backward
// compares older as the writer's schema with newer as the reader's,
// Forward the other way round, Full both. An unknown mode is Backward.
// It never fails: what it cannot judge becomes a Note.
func Compatible(older, newer *Schema, mode Mode) Report {
	if !mode.valid() {
		mode = Backward
	}
	rep := Report{Mode: mode}
	if older == nil || newer == nil {
		rep.Notes = append(rep.Notes, Note{Keyword: "", Reason: "no schema to compare", Direction: mode})
		return rep
	}
	if mode == Backward || mode == Full {
		c := newComparer(older.doc, newer.doc, Backward)
		c.run(&rep)
	}
	if mode == Forward || mode == Full {
		c := newComparer(newer.doc, older.doc, Forward)
		c.run(&rep)
	}
	rep.tidy()
	return rep
}

// loc is a subschema and where it is written in its document.
type loc struct {
	v any
	p string
}

func (l loc) at(tokens ...string) string { return l.p + jsonvalue.Pointer(tokens...) }

// ctx collects what one comparison finds.
type ctx struct {
	diffs []Difference
	notes []Note
}

func (c *ctx) add(o *ctx) {
	c.diffs = append(c.diffs, o.diffs...)
	c.notes = append(c.notes, o.notes...)
}

func (c *ctx) compatible() bool {
	for _, d := range c.diffs {
		if !d.Compatible {
			return false
		}
	}
	return true
}

// comparer checks that a reader's schema accepts what a writer's schema
// allows. In a Backward check the writer is the older schema.
type comparer struct {
	wdoc, rdoc any
	// wl and rl name the writer's and the reader's schema in reasons.
	wl, rl string
	dir    Mode
	memo   map[[2]string]*ctx
	busy   map[[2]string]bool
	steps  int
	// stopped is set once maxSteps is reached.
	stopped bool
	regexps map[string]*regexp.Regexp
}

func newComparer(writer, reader any, dir Mode) *comparer {
	c := &comparer{wdoc: writer, rdoc: reader, dir: dir, wl: "older", rl: "newer",
		memo: map[[2]string]*ctx{}, busy: map[[2]string]bool{}, regexps: map[string]*regexp.Regexp{}}
	if dir == Forward {
		c.wl, c.rl = "newer", "older"
	}
	return c
}

func (cm *comparer) run(rep *Report) {
	root := &ctx{}
	for _, side := range []struct {
		doc    any
		writer bool
	}{{cm.wdoc, true}, {cm.rdoc, false}} {
		if p := nestedID(side.doc, "", 0); p != "" {
			wp, rp := p, ""
			if !side.writer {
				wp, rp = "", p
			}
			cm.note(root, "$id", wp, rp, "an $id inside the document changes what the $refs below it mean; they were followed from the document's root")
		}
	}
	cm.compare(root, loc{cm.wdoc, ""}, loc{cm.rdoc, ""})
	if cm.stopped {
		cm.note(root, "", "", "", fmt.Sprintf("the check stopped after comparing %d pairs of subschemas: the rest is not analysed", maxSteps))
	}
	rep.Differences = append(rep.Differences, root.diffs...)
	rep.Notes = append(rep.Notes, root.notes...)
}

// diff records a difference found at wp in the writer's schema and rp in
// the reader's.
func (cm *comparer) diff(c *ctx, k Kind, wp, rp, reason string) {
	newer, older := rp, wp
	if cm.dir == Forward {
		newer, older = wp, rp
	}
	c.diffs = append(c.diffs, Difference{Kind: k, Pointer: newer, OldPointer: older, Reason: reason,
		Compatible: compatibleKind(k), Direction: cm.dir})
}

func (cm *comparer) note(c *ctx, keyword, wp, rp, reason string) {
	newer, older := rp, wp
	if cm.dir == Forward {
		newer, older = wp, rp
	}
	c.notes = append(c.notes, Note{Keyword: keyword, Pointer: newer, OldPointer: older, Reason: reason, Direction: cm.dir})
}

// breaks words why an incompatible change breaks, for reasons.
func (cm *comparer) breaks() string {
	return fmt.Sprintf("data valid for the %s schema may be rejected by the %s one", cm.wl, cm.rl)
}

// trial compares w with r on their own, for callers that decide from the
// outcome whether to keep it.
func (cm *comparer) trial(w, r loc) *ctx {
	sub := &ctx{}
	cm.compare(sub, w, r)
	return sub
}

// compare records in c how the reader's schema r judges what the writer's
// schema w allows. Each pair of places is compared once: later visits
// reuse the outcome, and a pair met again while it is being compared (a
// recursive schema) counts as compatible, as the registry does.
func (cm *comparer) compare(c *ctx, w, r loc) {
	var ok bool
	if w, ok = cm.deref(c, cm.wdoc, w, r.p, true); !ok {
		return
	}
	if r, ok = cm.deref(c, cm.rdoc, r, w.p, false); !ok {
		return
	}
	key := [2]string{w.p, r.p}
	if res, done := cm.memo[key]; done {
		c.add(res)
		return
	}
	if cm.busy[key] || cm.stopped {
		return
	}
	if cm.steps++; cm.steps > maxSteps {
		cm.stopped = true
		return
	}
	cm.busy[key] = true
	sub := &ctx{}
	cm.compareNow(sub, w, r)
	delete(cm.busy, key)
	cm.memo[key] = sub
	c.add(sub)
}

// deref follows l's $ref inside doc; other is the place on the other side,
// for notes. It fails (with a note) on a reference it cannot follow.
func (cm *comparer) deref(c *ctx, doc any, l loc, other string, writer bool) (loc, bool) {
	for hops := 0; ; hops++ {
		m, isMap := l.v.(map[string]any)
		if !isMap {
			return l, true
		}
		ref, has := m["$ref"].(string)
		if !has {
			return l, true
		}
		wp, rp := l.at("$ref"), other
		if !writer {
			wp, rp = other, l.at("$ref")
		}
		if hops >= maxRefHops {
			cm.note(c, "$ref", wp, rp, fmt.Sprintf("more than %d $refs in a row: not analysed", maxRefHops))
			return l, false
		}
		if assertsBeside(m, "$ref") {
			cm.note(c, "$ref", wp, rp, "keywords beside $ref are not analysed: only the referenced schema is compared")
		}
		target, tp, found := resolve(doc, ref)
		if !found {
			cm.note(c, "$ref", wp, rp, "$ref "+quote(ref)+" is not a JSON pointer into the document: not analysed")
			return l, false
		}
		l = loc{target, tp}
	}
}

// nestedID finds an $id below the root of doc, which makes a $ref below it
// relative to it: resolve reads every $ref from the root.
func nestedID(v any, p string, depth int) string {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["$id"].(string); ok && depth > 0 {
			return p + jsonvalue.Pointer("$id")
		}
		for _, k := range sortedKeys(x) {
			if found := nestedID(x[k], p+jsonvalue.Pointer(k), depth+1); found != "" {
				return found
			}
		}
	case []any:
		for i, e := range x {
			if found := nestedID(e, p+jsonvalue.Pointer(strconv.Itoa(i)), depth+1); found != "" {
				return found
			}
		}
	}
	return ""
}

// resolve finds the schema a local $ref ("#/$defs/Name") points at.
func resolve(doc any, ref string) (any, string, bool) {
	if len(ref) == 0 || ref[0] != '#' {
		return nil, "", false
	}
	frag, err := url.PathUnescape(ref[1:])
	if err != nil {
		return nil, "", false
	}
	tokens, ok := splitPointer(frag)
	if !ok {
		return nil, "", false
	}
	v := doc
	for _, t := range tokens {
		switch x := v.(type) {
		case map[string]any:
			if v, ok = x[t]; !ok {
				return nil, "", false
			}
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil, "", false
			}
			v = x[i]
		default:
			return nil, "", false
		}
	}
	return v, jsonvalue.Pointer(tokens...), true
}

// annotations are keywords that never make a value valid or invalid,
// and places for definitions, reached through $ref.
var annotations = map[string]bool{
	"$id": true, "id": true, "title": true, "description": true, "default": true, "$comment": true,
	"examples": true, "deprecated": true, "readOnly": true, "writeOnly": true, "$anchor": true,
	"$defs": true, "definitions": true, "$vocabulary": true, "contentEncoding": true,
	"contentMediaType": true, "$schema": true,
}

// assertsBeside reports whether m has a keyword other than skip that a
// validator reads.
func assertsBeside(m map[string]any, skip string) bool {
	for k := range m {
		if k != skip && !annotations[k] && known[k] {
			return true
		}
	}
	return false
}

// acceptsAll reports whether a schema accepts every value: true, or an
// object with annotations only (a keyword no validator reads counts as
// one).
func acceptsAll(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case map[string]any:
		return !assertsBeside(x, "")
	}
	return false
}

// asMap is a schema's keywords; true is the empty schema.
func asMap(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// compareNow compares one pair of subschemas, both dereferenced.
func (cm *comparer) compareNow(c *ctx, w, r loc) {
	if b, ok := w.v.(bool); ok && !b {
		return // the writer wrote nothing
	}
	if acceptsAll(r.v) {
		return
	}
	if b, ok := r.v.(bool); ok && !b {
		cm.diff(c, TypeChanged, w.p, r.p, fmt.Sprintf("the %s schema is false: it rejects every value", cm.rl))
		return
	}
	wm, rm := asMap(w.v), asMap(r.v)
	if cm.wrapper(c, w, wm, r, rm) {
		cm.unanalysed(c, w, wm, r, rm) // $schema, beside the combinator
		return
	}
	cm.compareAnnotations(c, w, wm, r, rm)
	common := cm.compareTypes(c, w, wm, r, rm)
	cm.compareEnum(c, w, wm, r, rm)
	if common&tString != 0 {
		cm.compareString(c, w, wm, r, rm)
	}
	if common&(tInteger|tFraction) != 0 {
		cm.compareNumber(c, w, wm, r, rm)
	}
	if common&tObject != 0 {
		cm.compareObject(c, w, wm, r, rm)
	}
	if common&tArray != 0 {
		cm.compareArray(c, w, wm, r, rm)
	}
	cm.compareCombinators(c, w, wm, r, rm)
	cm.unanalysed(c, w, wm, r, rm)
}

func (cm *comparer) compareAnnotations(c *ctx, w loc, wm map[string]any, r loc, rm map[string]any) {
	for _, a := range []struct {
		kw   string
		kind Kind
	}{{"$id", IDChanged}, {"id", IDChanged}, {"title", TitleChanged}, {"description", DescriptionChanged}, {"default", DefaultChanged}} {
		wv, wHas := wm[a.kw]
		rv, rHas := rm[a.kw]
		if wHas != rHas || (wHas && !equal(wv, rv)) {
			cm.diff(c, a.kind, w.at(a.kw), r.at(a.kw), a.kw+" changed from "+show(wv, wHas)+" to "+show(rv, rHas))
		}
	}
}

// show renders an optional value.
func show(v any, has bool) string {
	if !has {
		return "none"
	}
	return jsonvalue.Render(v)
}
