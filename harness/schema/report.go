package schema

import (
	"cmp"
	"slices"
)

// Difference is one change from the older schema to the newer, found by
// the check of one direction.
type Difference struct {
	// Kind is the Confluent Schema Registry's name for the change.
	Kind Kind
	// Pointer is the RFC 6901 pointer of the place in the newer schema
	// ("" is the root), following its $refs: a change inside a definition
	// is reported where the definition is written. For something the
	// newer schema no longer has, it is where it would be.
	Pointer string
	// OldPointer is the same place in the older schema.
	OldPointer string
	// Reason says in one line what changed and, when it breaks, why.
	Reason string
	// Compatible reports whether the change keeps Direction's promise.
	Compatible bool
	// Direction is the check that found it: Backward (the newer schema
	// reads data of the older) or Forward (the older reads the newer's).
	// Full runs both.
	Direction Mode
}

// Note is a place the check could not judge: a keyword or a construct
// this package does not analyse (see the package documentation). A note
// is never counted as compatible; Report.Compatible ignores notes, and a
// strict caller fails on them.
type Note struct {
	Pointer    string
	OldPointer string
	// Keyword is the JSON Schema keyword concerned.
	Keyword   string
	Reason    string
	Direction Mode
}

// Report is the outcome of one Compatible check.
type Report struct {
	Mode        Mode
	Differences []Difference
	Notes       []Note
}

// Compatible reports whether no difference breaks the mode's promise.
// Notes are not differences: see Note.
func (r Report) Compatible() bool {
	return !slices.ContainsFunc(r.Differences, func(d Difference) bool { return !d.Compatible })
}

// Incompatible returns the differences that break the mode's promise.
func (r Report) Incompatible() []Difference {
	var out []Difference
	for _, d := range r.Differences {
		if !d.Compatible {
			out = append(out, d)
		}
	}
	return out
}

// tidy drops repeated differences and notes (a definition reached by two
// $refs is compared once but may be reported from both) and sorts them:
// by direction, then place, then kind.
func (r *Report) tidy() {
	slices.SortStableFunc(r.Differences, func(a, b Difference) int {
		return cmp.Or(cmp.Compare(a.Direction, b.Direction), cmp.Compare(a.Pointer, b.Pointer),
			cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.OldPointer, b.OldPointer), cmp.Compare(a.Reason, b.Reason))
	})
	r.Differences = slices.Compact(r.Differences)
	slices.SortStableFunc(r.Notes, func(a, b Note) int {
		return cmp.Or(cmp.Compare(a.Direction, b.Direction), cmp.Compare(a.Pointer, b.Pointer),
			cmp.Compare(a.Keyword, b.Keyword), cmp.Compare(a.OldPointer, b.OldPointer), cmp.Compare(a.Reason, b.Reason))
	})
	r.Notes = slices.Compact(r.Notes)
}
