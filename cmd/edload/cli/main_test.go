package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type junit struct {
	Cases []struct {
		Name    string `xml:"name,attr"`
		Failure *struct {
			Message string `xml:"message,attr"`
			Text    string `xml:",chardata"`
		} `xml:"failure"`
	} `xml:"testcase"`
}

func readJUnit(t *testing.T, dir string) junit {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var j junit
	if err := xml.Unmarshal(b, &j); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	return j
}

// TestDedupGate is the gate proving it can fail: the same load with the
// duplicate fault passes with inbox dedup on and fails, naming the
// duplicate-effect invariant, with it off.
func TestDedupGate(t *testing.T) {
	brokers := []string{"memory", "kafka"}
	for _, broker := range brokers {
		for _, dedup := range []string{"true", "false"} {
			t.Run(broker+"/dedup="+dedup, func(t *testing.T) {
				dir := t.TempDir()
				var out, errOut bytes.Buffer
				args := []string{"run", "--broker", broker, "--duration", "2s", "--rate", "50",
					"--fault", "duplicate", "--dup-rate", "0.2", "--dedup=" + dedup,
					// The gate under test is dedup; other packages' tests share
					// the cores, so do not fail on a slow second.
					"--min-rate", "0.5", "--out", dir, "--quiesce-timeout", "30s"}
				code := execute(context.Background(), args, &out, &errOut)
				want := exitOK
				if dedup == "false" {
					want = exitBroken
				}
				if code != want {
					t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, out.String(), errOut.String())
				}
				var rep map[string]any
				b, err := os.ReadFile(filepath.Join(dir, "report.json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &rep); err != nil {
					t.Fatalf("report.json: %v", err)
				}
				j := readJUnit(t, dir)
				var failed []string
				for _, c := range j.Cases {
					if c.Failure != nil {
						failed = append(failed, c.Name)
					}
				}
				if dedup == "true" && len(failed) > 0 {
					t.Fatalf("clean run failed %v\n%s", failed, out.String())
				}
				if dedup == "false" {
					if len(failed) != 1 || !strings.Contains(failed[0], "no-duplicate-effect") {
						t.Fatalf("failed cases %v, want exactly no-duplicate-effect\n%s", failed, out.String())
					}
					if !strings.Contains(out.String(), "place-o-") && !strings.Contains(out.String(), "/ReserveStock") &&
						!strings.Contains(out.String(), "/ChargePayment") {
						t.Fatalf("summary does not name a message:\n%s", out.String())
					}
				}
				checkReproduces(t, dir, want)
			})
		}
	}
}

// checkReproduces re-judges the run in dir with edload check and wants the
// run's exit code and the run's verdicts, anomaly for anomaly.
func checkReproduces(t *testing.T, dir string, code int) {
	t.Helper()
	again := t.TempDir()
	var out, errOut bytes.Buffer
	if got := execute(context.Background(), []string{"check", dir, "--out", again}, &out, &errOut); got != code {
		t.Fatalf("edload check exit %d, the run's was %d\n%s%s", got, code, out.String(), errOut.String())
	}
	invariants := func(d string) string {
		b, err := os.ReadFile(filepath.Join(d, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Invariants json.RawMessage `json:"invariants"`
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		return string(rep.Invariants)
	}
	if a, b := invariants(dir), invariants(again); a != b {
		t.Fatalf("edload check judged differently:\nrun:   %s\ncheck: %s", a, b)
	}
}

// TestFindMaxCommand: a capacity search on the echo system reports each
// probe and a capacity; an SLO no rate can meet finds none and exits 1.
func TestFindMaxCommand(t *testing.T) {
	for _, tc := range []struct {
		slo  string
		code int
		want string
	}{
		{"e2e.p99<2s", exitOK, "capacity: "},
		{"e2e.p99<1ns", exitBroken, "capacity: no probe held"},
	} {
		t.Run(tc.slo, func(t *testing.T) {
			dir := t.TempDir()
			var out, errOut bytes.Buffer
			args := []string{"run", "--system", "echo", "--broker", "memory", "--find-max", "--rate", "200", "--probes", "2",
				"--duration", "500ms", "--slo", tc.slo, "--min-rate", "0.5", "--quiesce-timeout", "5s", "--out", dir}
			if code := execute(context.Background(), args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), tc.want) || strings.Count(errOut.String(), "edload: probe ") != 2 {
				t.Fatalf("want %q and two probe lines:\n%s%s", tc.want, out.String(), errOut.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "probe-2", "history.bin.zst")); err != nil {
				t.Fatalf("probe 2 left no history: %v", err)
			}
		})
	}
}

// TestRunWithANemesis: --nemesis kills the embedded broker mid-load on a
// schedule from --seed; the echo system rides through it and the report
// counts the fault injected and healed.
func TestRunWithANemesis(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"run", "--system", "echo", "--broker", "kafka", "--nemesis", "kill", "--nemesis-gap", "500ms", "--nemesis-hold", "500ms",
		"--duration", "2s", "--rate", "100", "--fault", "none", "--quiesce-timeout", "20s", "--out", t.TempDir(),
		// A kill stalls sends for its length: the rate is not what this proves.
		"--min-rate", "0.5"}
	if code := execute(context.Background(), args, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitOK, out.String(), errOut.String())
	}
	// Gaps and holds of 500 ms fit two faults in 2 s, whatever the seed.
	for _, want := range []string{`nemesis: faults injected\s+2\n`, `nemesis: faults healed\s+2\n`, `PASS\s+no-acknowledged-loss`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("the report lacks %s:\n%s", want, out.String())
		}
	}
}

// TestPrintErrRedactsAndCleans: an error quoting a URL with a password or
// a broker's reply with an escape sequence reaches stderr without either;
// a multi-line error (a file's problems) keeps its lines.
func TestPrintErrRedactsAndCleans(t *testing.T) {
	var b bytes.Buffer
	printErr(&b, errors.New("dial amqp://u:s3cr;et@h:5672/: \x1b[2Jrefused\nspec.yaml:3:1: bad"))
	got := b.String()
	if strings.Contains(got, "s3cr") || strings.ContainsRune(got, '\x1b') {
		t.Errorf("stderr shows a secret or an escape: %q", got)
	}
	if want := "edload: dial amqp://u:***@h:5672/: \uFFFD[2Jrefused\nspec.yaml:3:1: bad\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRunKeepsAnEarlierRun: a second run into the same --out is bad usage
// until --replace says to overwrite the first.
func TestRunKeepsAnEarlierRun(t *testing.T) {
	dir := t.TempDir()
	args := []string{"run", "--system", "echo", "--broker", "memory", "--duration", "300ms", "--rate", "50",
		"--min-rate", "0.3", "--out", dir}
	var out, errOut bytes.Buffer
	if code := execute(t.Context(), args, &out, &errOut); code != exitOK {
		t.Fatalf("first run: exit %d\n%s", code, errOut.String())
	}
	errOut.Reset()
	if code := execute(t.Context(), args, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "already holds a run") {
		t.Fatalf("second run: exit %d, want %d:\n%s", code, exitUsage, errOut.String())
	}
	if code := execute(t.Context(), append(args, "--replace"), &out, &errOut); code != exitOK {
		t.Fatalf("--replace: exit %d\n%s", code, errOut.String())
	}
}

// TestExitCodesDocumented: the table --help prints is the README's, and
// names the codes Execute returns.
func TestExitCodesDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	table := strings.TrimPrefix(ExitCodes, "Exit codes:\n")
	if !strings.Contains(string(readme), table) {
		t.Errorf("README.md lacks the exit code table:\n%s", table)
	}
	var out bytes.Buffer
	if code := execute(t.Context(), []string{"--help"}, &out, &out); code != exitOK || !strings.Contains(out.String(), ExitCodes) {
		t.Errorf("--help (exit %d) lacks the table:\n%s", code, out.String())
	}
	for _, c := range []int{exitOK, exitBroken, exitUsage, exitEnvironment, exitInterrupted} {
		if !strings.Contains(table, fmt.Sprintf("\n  %-4d ", c)) && !strings.HasPrefix(table, fmt.Sprintf("  %-4d ", c)) {
			t.Errorf("exit code %d is not in the table", c)
		}
	}
}
