package scenarios

import (
	"path/filepath"
	"testing"
)

// RunFiles runs every scenario file matching pattern against sys in each
// mode (all three when none is given), one subtest per mode and file, as
// a system's scenario suite does from go test; a file that does not parse
// or a scenario that fails fails its subtest with the report. It returns
// the verdicts of the scenarios that ran, and fails t when no file
// matches, so a moved directory cannot pass by running nothing.
func RunFiles(t *testing.T, sys Speaker, pattern string, modes ...Mode) []*Verdict {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("scenarios: no scenario file matches %q (%v)", pattern, err)
	}
	if len(modes) == 0 {
		modes = []Mode{Memory, Kafka, Faults}
	}
	vocab := sys.Vocabulary()
	parsed := make([]*Scenario, len(files))
	for i, f := range files {
		if parsed[i], err = ParseFile(f, vocab); err != nil {
			t.Error(err) // every bad file is named, then none runs
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	var verdicts []*Verdict
	for _, mode := range modes {
		for i, f := range files {
			t.Run(mode.Name+"/"+filepath.Base(f), func(t *testing.T) {
				sc := parsed[i]
				v, err := Run(t.Context(), sys, sc, mode)
				if err != nil {
					t.Fatal(err)
				}
				verdicts = append(verdicts, v)
				if !v.Passed {
					t.Fatalf("%s failed in %s:\n%s", sc.Name, v.Environment, v.Report)
				}
			})
		}
	}
	return verdicts
}
