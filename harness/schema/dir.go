package schema

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Version is one schema file of a subject in a directory.
type Version struct {
	// Subject is the file name's NAME in NAME.vN.json.
	Subject string
	// Number is its N.
	Number int
	// Path is the file's path.
	Path string
}

// PairReport is the check of one pair of versions of a subject.
type PairReport struct {
	Subject  string
	Old, New Version
	Report   Report
}

// versionName is how a version file is named: NAME.vN.json, .yaml or .yml.
var versionName = regexp.MustCompile(`^(.+)\.v([0-9]{1,9})\.(json|yaml|yml)$`)

// CheckDir checks the versioned schemas in dir: files named NAME.v1.json,
// NAME.v2.json, … (or .yaml, .yml), one subject per NAME. Each subject's
// versions are taken in numeric order (v10 after v9) and each checked
// against the one before under mode; with transitive, each against every
// earlier one, as the registry's *_TRANSITIVE modes do. Reports come by
// subject (sorted), then by newer version, then by older.
//
// Every file is loaded before any is compared. A JSON or YAML file not
// named as a version, two files for one version, a directory with no
// versions, and every file that does not load are errors (*Error, joined):
// a version misnamed would otherwise go unchecked. Other files and
// subdirectories are ignored.
func CheckDir(dir string, mode Mode, transitive bool) ([]PairReport, error) {
	if !mode.valid() {
		return nil, fmt.Errorf("schema: unknown mode %d", int(mode))
	}
	subjects, err := versions(dir)
	if err != nil {
		return nil, err
	}
	loaded := map[string]*Schema{}
	var errs []error
	for _, vs := range subjects {
		for _, v := range vs {
			s, err := Load(v.Path)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			loaded[v.Path] = s
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var out []PairReport
	for _, name := range sortedKeys(subjects) {
		vs := subjects[name]
		for j := 1; j < len(vs); j++ {
			first := j - 1
			if transitive {
				first = 0
			}
			for i := j - 1; i >= first; i-- {
				out = append(out, PairReport{Subject: name, Old: vs[i], New: vs[j],
					Report: Compatible(loaded[vs[i].Path], loaded[vs[j].Path], mode)})
			}
		}
	}
	return out, nil
}

// versions lists dir's version files by subject, each in version order.
func versions(dir string) (map[string][]Version, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &Error{File: dir, Msg: "cannot read the schema directory: " + err.Error(), Err: err}
	}
	subjects := map[string][]Version{}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		m := versionName.FindStringSubmatch(name)
		if m == nil {
			switch strings.ToLower(filepath.Ext(name)) {
			case ".json", ".yaml", ".yml":
				errs = append(errs, &Error{File: path, Err: ErrInvalid,
					Msg: "not named as a version of a subject: want NAME.vN" + filepath.Ext(name) + " (NAME.v1.json, NAME.v2.json, ...)"})
			}
			continue
		}
		n, _ := strconv.Atoi(m[2]) // nine digits at most
		subjects[m[1]] = append(subjects[m[1]], Version{Subject: m[1], Number: n, Path: path})
	}
	for name, vs := range subjects {
		slices.SortFunc(vs, func(a, b Version) int { return a.Number - b.Number })
		for i := 1; i < len(vs); i++ {
			if vs[i].Number == vs[i-1].Number {
				errs = append(errs, &Error{File: vs[i].Path, Err: ErrInvalid,
					Msg: fmt.Sprintf("version %d of subject %s is also %s", vs[i].Number, quote(name), vs[i-1].Path)})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(subjects) == 0 {
		return nil, &Error{File: dir, Err: ErrInvalid, Msg: "no versioned schemas (NAME.v1.json, NAME.v2.json, ... or .yaml) in the directory"}
	}
	return subjects, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
