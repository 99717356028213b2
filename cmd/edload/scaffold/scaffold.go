// Package scaffold writes the skeleton of an aggregate, a saga or a
// projection into a user's module, with its given/when/then test on
// scenarios/fixture, for `edload new`: a starting point that compiles and
// passes, in the shape edkit's fixtures test. It also writes a scenario
// file for a system's Vocabulary (WriteScenario), one that parses and
// runs. It writes only new files.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"unicode"
)

//go:embed templates/*.tmpl
var templates embed.FS

// Kinds are what scaffold writes: Go code by Write, and KindScenario, a
// scenario file, by WriteScenario.
var Kinds = []string{"aggregate", "projection", "saga", KindScenario}

// ErrBadInput is a kind, name or package scaffold cannot write.
var ErrBadInput = errors.New("scaffold: bad input")

// ErrExists is a file scaffold would overwrite.
var ErrExists = errors.New("scaffold: file exists")

var (
	nameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,63}$`)
	packageRE = regexp.MustCompile(`(?m)^package ([A-Za-z0-9_]+)`)
)

// data is what the templates see.
type data struct {
	Pkg   string // the Go package
	Name  string // the exported type name: Account
	Lower string // for prose: account
}

// Write writes kind NAME into dir as NAME.go and NAME_test.go in package
// pkg ("" for the package of the Go files already in dir, else dir's
// name), and returns the paths written. It writes nothing when either
// file exists.
func Write(dir, kind, name, pkg string) ([]string, error) {
	if kind == KindScenario {
		return nil, fmt.Errorf("%w: kind %q is a YAML file, not Go code (WriteScenario writes it)", ErrBadInput, kind)
	}
	if !slices.Contains(Kinds, kind) {
		return nil, fmt.Errorf("%w: kind %q (want %s)", ErrBadInput, kind, strings.Join(Kinds, ", "))
	}
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("%w: name %q (want a letter, then letters or digits, at most 64)", ErrBadInput, name)
	}
	if pkg == "" {
		pkg = packageOf(dir)
	}
	if !nameRE.MatchString(pkg) || strings.ToLower(pkg) != pkg {
		return nil, fmt.Errorf("%w: package %q (want lower-case letters and digits; give --package)", ErrBadInput, pkg)
	}
	d := data{Pkg: pkg, Name: exported(name), Lower: strings.ToLower(name)}
	base := filepath.Join(dir, d.Lower)
	files := map[string]string{base + ".go": kind + ".go.tmpl", base + "_test.go": kind + "_test.go.tmpl"}
	out := make(map[string][]byte, len(files))
	for path, tmpl := range files {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%w: %s", ErrExists, path)
		}
		src, err := render(tmpl, d)
		if err != nil {
			return nil, err
		}
		out[path] = src
	}
	var written []string
	for _, path := range slices.Sorted(maps.Keys(out)) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644) //nolint:gosec // source files, readable
		if err != nil {
			return written, err
		}
		_, werr := f.Write(out[path])
		if err := errors.Join(werr, f.Close()); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

func render(name string, d data) ([]byte, error) {
	t, err := template.ParseFS(templates, "templates/"+name)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, err
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("scaffold: %s does not format: %w", name, err)
	}
	return src, nil
}

// packageOf is the package of the Go files in dir, else dir's base name.
func packageOf(dir string) string {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") {
			continue
		}
		b, err := os.ReadFile(m) //nolint:gosec // the user's own source
		if err != nil {
			continue
		}
		if g := packageRE.FindSubmatch(b); g != nil {
			return string(g[1])
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	return strings.ToLower(filepath.Base(abs))
}

func exported(name string) string {
	r := []rune(name)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
