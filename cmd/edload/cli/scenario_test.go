package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScenarioCommand(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string
		stderr     []string
		junitFails int
	}{
		{"shop scenarios pass", []string{"scenario", "../../../scenarios/shop"}, exitOK,
			[]string{"5 scenarios, 5 passed, 0 failed"}, nil, 0},
		{"shop scenarios pass on kafka", []string{"scenario", "--mode", "kafka", "../../../scenarios/shop"}, exitOK,
			[]string{"kafka on embedded-kafka", "5 scenarios, 5 passed, 0 failed"}, nil, 0},
		{"shop scenarios pass under faults", []string{"scenario", "--mode", "faults", "../../../scenarios/shop"}, exitOK,
			[]string{"5 scenarios, 5 passed, 0 failed"}, nil, 0},
		{"failing expectation prints the transcript", []string{"scenario", "--timeout", "1s", "testdata/wrong-status.yaml"}, exitBroken,
			[]string{"FAIL: scenario \"expects the wrong outcome\"", `got "confirmed", want "cancelled"`, "message sequence", "PlaceOrder",
				"1 scenarios, 0 passed, 1 failed"}, nil, 1},
		{"malformed file names line and column", []string{"scenario", "testdata/bad-field.yaml"}, exitUsage,
			nil, []string{`bad-field.yaml:6:11: when[0].with: json: unknown field "sku"`}, -1},
		{"an unknown mode", []string{"scenario", "--mode", "kafak", "../../../scenarios/shop"}, exitUsage,
			nil, []string{`--mode: mode "kafak": want memory, kafka or faults`}, -1},
		{"missing file", []string{"scenario", "testdata/no-such.yaml"}, exitUsage, nil, []string{"no-such.yaml"}, -1},
		{"no arguments", []string{"scenario"}, exitUsage, nil, []string{"needs at least one file"}, -1},
		{"a system without scenario files", []string{"scenario", "--system", "echo", "../../../scenarios/shop"}, exitUsage,
			nil, []string{"--system echo: it has no scenario files"}, -1},
		{"an unknown system", []string{"scenario", "--system", "bnak", "../../../scenarios/shop"}, exitUsage,
			nil, []string{`--system "bnak": want one of shop, echo`}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := tt.args
			if tt.junitFails >= 0 {
				args = append(args, "--out", dir)
			}
			var out, errOut bytes.Buffer
			code := execute(context.Background(), args, &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errOut.String())
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			if tt.junitFails >= 0 {
				fails := 0
				for _, c := range readJUnit(t, dir).Cases {
					if c.Failure != nil {
						fails++
					}
				}
				if fails != tt.junitFails {
					t.Fatalf("junit has %d failures, want %d", fails, tt.junitFails)
				}
			}
		})
	}
}

// TestScenarioOutputEscapesHostileNames: IDs in a scenario file carry an
// escape sequence and a newline that, printed raw, clear the terminal and
// forge a PASS line under a failing scenario.
func TestScenarioOutputEscapesHostileNames(t *testing.T) {
	var out, errOut bytes.Buffer
	dir := t.TempDir()
	code := execute(t.Context(), []string{"scenario", "--timeout", "1s", "--out", dir, "testdata/hostile.yaml"}, &out, &errOut)
	if code != exitBroken {
		t.Fatalf("exit %d, want %d:\n%s%s", code, exitBroken, out.String(), errOut.String())
	}
	if strings.ContainsRune(out.String()+errOut.String(), '\x1b') {
		t.Errorf("an escape sequence reached the output:\n%q", out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "PASS") {
			t.Errorf("a forged line: %q", line)
		}
	}
	if !strings.Contains(out.String(), `view order/o-1\nPASS: scenario "forged"`) {
		t.Errorf("the hostile ID is not shown flattened:\n%s", out.String())
	}
	if cases := readJUnit(t, dir).Cases; len(cases) != 1 || cases[0].Failure == nil { // and it parses
		t.Errorf("junit.xml: %+v, want one failed case", cases)
	}
}

// TestScenarioPathsAreLiteral: a directory named "s[1]" is that directory;
// taken as a pattern it matched "s1" and ran another directory's files.
func TestScenarioPathsAreLiteral(t *testing.T) {
	root := t.TempDir()
	pass, err := os.ReadFile("../../../scenarios/shop/happy-path.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fail, err := os.ReadFile("testdata/wrong-status.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for dir, data := range map[string][]byte{"s[1]": pass, "s1": fail} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dir, "x.yaml"), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if code := execute(t.Context(), []string{"scenario", "--timeout", "1s", filepath.Join(root, "s[1]")}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d, want %d (the passing file of s[1]):\n%s%s", code, exitOK, out.String(), errOut.String())
	}
	if code := execute(t.Context(), []string{"scenario", t.TempDir()}, &out, &errOut); code != exitUsage ||
		!strings.Contains(errOut.String(), "no *.yaml scenario files") {
		t.Errorf("an empty directory: exit %d:\n%s", code, errOut.String())
	}
}
