package scaffold_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/cmd/edload/cli"
	"github.com/edkit-dev/edkit/cmd/edload/echosystem"
	"github.com/edkit-dev/edkit/cmd/edload/scaffold"
	"github.com/edkit-dev/edkit/cmd/edload/shopsystem"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/scenarios"
)

type line struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// order has a field of every shape a payload shows: nested, nil slices
// and maps (shown empty), a pointer (null), types that marshal
// themselves.
type order struct {
	ID    string            `json:"id"`
	Lines []line            `json:"lines"`
	Tags  map[string]string `json:"tags"`
	At    time.Time         `json:"at"`
	Raw   json.RawMessage   `json:"raw"`
	Ref   *line             `json:"ref"`
	Meta  struct {
		Source string   `json:"source"`
		Labels []string `json:"labels"`
	} `json:"meta"`
	Note string `json:"note,omitempty"`
}

// picky refuses its own zero value: the skeleton leaves its payload out.
type picky struct{ N int }

func (p *picky) UnmarshalJSON(b []byte) error {
	var v struct{ N int }
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.N == 0 {
		return errors.New("picky: N must be set")
	}
	p.N = v.N
	return nil
}

type stock struct {
	Stock map[string]int `json:"stock"`
}

// TestWriteScenarioParses writes a skeleton for vocabularies of every
// shape and parses it against the same vocabulary, as `edload scenario`
// does: each parses, sends what the system registers, and holds the
// no-loss invariant.
func TestWriteScenarioParses(t *testing.T) {
	full := &scenarios.Vocabulary{}
	scenarios.Define[order](full, scenarios.KindCommand, "Zeta")
	scenarios.Define[order](full, scenarios.KindCommand, "Alpha")
	scenarios.Define[line](full, scenarios.KindEvent, "LineAdded")
	scenarios.Define[line](full, scenarios.KindMessage, "Raw")
	scenarios.Setup[stock](full)
	pickyV := &scenarios.Vocabulary{}
	scenarios.Define[picky](pickyV, scenarios.KindCommand, "Picky")
	scenarios.Setup[picky](pickyV)
	scalar := &scenarios.Vocabulary{}
	scenarios.Define[string](scalar, scenarios.KindCommand, "Say")
	events := &scenarios.Vocabulary{}
	scenarios.Define[line](events, scenarios.KindEvent, "LineAdded")
	odd := &scenarios.Vocabulary{} // names YAML would read as something else
	scenarios.Define[line](odd, scenarios.KindCommand, "true")
	scenarios.Define[line](odd, scenarios.KindEvent, "1.0")
	scenarios.Define[line](odd, scenarios.KindMessage, "a, b")

	tests := []struct {
		name, system string
		vocab        *scenarios.Vocabulary
		when         scenarios.Kind // of the one when step; "" for elapse
		want, not    []string
	}{
		{name: "full", system: "shop", vocab: full, when: scenarios.KindCommand,
			want: []string{
				"setup: {stock: {}}\n",
				"  - command: Alpha\n    id: cmd-1\n",
				`    with: {id: "", lines: [], tags: {}, at: "0001-01-01T00:00:00Z", raw: null, ref: null, meta: {source: "", labels: []}}` + "\n",
				"#   - event: LineAdded\n#     stream: STREAM\n#     id: evt-1\n#     with: {sku: \"\", qty: 0}\n",
				"#   - message: Raw\n",
				"#       where: {/sku: VALUE}\n",
				"# - messages: {topic: TOPIC, key: KEY, types: [Alpha]}\n",
				"edload scenario --system shop ",
			},
			not: []string{"Zeta", "note"}},
		{name: "zero refused", system: "p", vocab: pickyV, when: scenarios.KindCommand,
			want: []string{"  - command: Picky\n    id: cmd-1\n\n"}, not: []string{"    with:", "setup:"}},
		{name: "not an object", system: "s", vocab: scalar, when: scenarios.KindCommand,
			want: []string{"  - command: Say\n    id: cmd-1\n\n"}, not: []string{"    with:"}},
		{name: "no commands", system: "e", vocab: events,
			want: []string{"  - elapse: 1s\n", "#   - event: LineAdded\n"}, not: []string{"command:", "setup:"}},
		{name: "odd names", system: "odd", vocab: odd, when: scenarios.KindCommand,
			want: []string{`  - command: "true"`, `#   - event: "1.0"`, `#   - message: "a, b"`, `types: ["1.0"]`}},
		{name: "not a speaker", system: "echo",
			want: []string{"System echo implements no scenarios.Speaker", "  - elapse: 1s\n", "types: [EventType]"},
			not:  []string{"command:", "setup:", "    with:"}},
		{name: "no speaker at all",
			want: []string{"No system of this binary implements scenarios.Speaker", "--system SYSTEM", "  - elapse: 1s\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "new", "scenarios") // created
			path, err := scaffold.WriteScenario(dir, "a-case-2", tt.system, tt.vocab)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, "a-case-2.yaml"); path != want {
				t.Errorf("path %s, want %s", path, want)
			}
			vocab := tt.vocab
			if vocab == nil {
				vocab = &scenarios.Vocabulary{}
			}
			sc, err := scenarios.ParseFile(path, vocab)
			if err != nil {
				t.Fatalf("the skeleton does not parse: %v", err)
			}
			if sc.Name != "a case 2" || len(sc.When) != 1 || sc.When[0].Kind != tt.when || len(sc.Given) != 0 {
				t.Errorf("parsed %q with when %+v, given %d", sc.Name, sc.When, len(sc.Given))
			}
			if len(sc.Then) != 1 || sc.Then[0].Invariant != "no-acknowledged-loss" {
				t.Errorf("then %+v, want only invariant no-acknowledged-loss", sc.Then)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("the skeleton lacks %q", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(string(b), w) {
					t.Errorf("the skeleton has %q", w)
				}
			}
			// Every commented example is valid too: uncommented, it parses.
			if _, err := scenarios.Parse(path, uncomment(b), vocab); err != nil {
				t.Errorf("the examples, uncommented, do not parse: %v\n%s", err, uncomment(b))
			}
			if t.Failed() {
				t.Logf("%s:\n%s", path, b)
			}
		})
	}
}

// uncomment turns a skeleton's commented given steps and then entries
// into YAML, as a user who uncomments them all does.
func uncomment(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		switch {
		case l == "# given:":
			lines[i] = "given:"
		case strings.HasPrefix(l, "#   -"), strings.HasPrefix(l, "#     "):
			lines[i] = l[1:]
		case strings.HasPrefix(l, "  # -"), strings.HasPrefix(l, "  #     "):
			lines[i] = "  " + l[4:]
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

func TestWriteScenarioRefuses(t *testing.T) {
	dir := t.TempDir()
	path, err := scaffold.WriteScenario(dir, "kept", "echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		want error
	}{
		{"kept", scaffold.ErrExists},
		{"Kept", scaffold.ErrBadInput},
		{"kept.yaml", scaffold.ErrBadInput},
		{"../kept", scaffold.ErrBadInput},
		{"-kept", scaffold.ErrBadInput},
		{"kept-", scaffold.ErrBadInput},
		{"ke--pt", scaffold.ErrBadInput},
		{"ke_pt", scaffold.ErrBadInput},
		{"", scaffold.ErrBadInput},
		{strings.Repeat("k", 65), scaffold.ErrBadInput},
	} {
		_, err := scaffold.WriteScenario(dir, tt.name, "echo", nil)
		if !errors.Is(err, tt.want) {
			t.Errorf("WriteScenario(%q) = %v, want %v", tt.name, err, tt.want)
		}
		if errors.Is(tt.want, scaffold.ErrExists) && (err == nil || !strings.Contains(err.Error(), path)) {
			t.Errorf("WriteScenario(%q) = %v, want the file named", tt.name, err)
		}
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "mine\n" {
		t.Errorf("the existing file changed: %q, %v", b, err)
	}
	if _, err := scaffold.WriteScenario(dir, strings.Repeat("k", 64), "echo", nil); err != nil {
		t.Errorf("a 64-character name: %v", err)
	}
	// A name YAML reads as null is quoted: the scenario is called "null".
	if p, err := scaffold.WriteScenario(dir, "null", "echo", nil); err != nil {
		t.Errorf("name null: %v", err)
	} else if sc, err := scenarios.ParseFile(p, nil); err != nil || sc.Name != "null" {
		t.Errorf("name null: parsed %v, %v", sc, err)
	}
	if _, err := scaffold.Write(dir, scaffold.KindScenario, "Kept", "bank"); !errors.Is(err, scaffold.ErrBadInput) {
		t.Errorf("Write(scenario) = %v, want ErrBadInput (WriteScenario writes it)", err)
	}
}

// edload runs the edload command line with systems and returns its exit
// code and output.
func edload(t *testing.T, systems []harness.System, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Execute(t.Context(), args, &out, &errOut, systems...)
	return code, out.String(), errOut.String()
}

// TestNewScenarioShop writes a scenario for the shop as a user does
// (`edload new scenario NAME`, into ./scenarios), compares it with the
// golden file, parses it with the shop's vocabulary and runs it: edload
// scenario takes it (no exit 2) and names it.
func TestNewScenarioShop(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "scenario-shop.golden"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	shop := shopsystem.New(shopsystem.Config{})
	systems := []harness.System{echosystem.New(), shop} // the shop is the first Speaker, the default
	code, stdout, stderr := edload(t, systems, "new", "scenario", "payment-declined")
	path := filepath.Join("scenarios", "payment-declined.yaml")
	if code != 0 || stdout != "wrote "+path+"\n" {
		t.Fatalf("new scenario: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s; got:\n%s", path, golden, got)
	}
	sc, err := scenarios.ParseFile(path, shop.Vocabulary())
	if err != nil {
		t.Fatalf("the skeleton does not parse for the shop: %v", err)
	}
	if sc.Setup == nil || len(sc.When) != 1 || sc.When[0].Type != "PlaceOrder" {
		t.Errorf("parsed setup %v, when %+v; want the shop's setup and a PlaceOrder", sc.Setup, sc.When)
	}
	// A zero PlaceOrder is refused and its saga never ends, so the run may
	// fail (exit 1); what it must not be is bad input.
	code, stdout, stderr = edload(t, systems, "scenario", "--system", "shop", path)
	if code == 2 || !strings.Contains(stdout, `scenario "payment declined"`) {
		t.Errorf("scenario: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestNewScenarioNoSpeaker: a system without scenario types, named or the
// only one, gets the skeleton that only lets time pass, and it parses.
func TestNewScenarioNoSpeaker(t *testing.T) {
	for _, tt := range []struct {
		name    string
		systems []harness.System
		args    []string
		want    string
	}{
		{"echo named", []harness.System{shopsystem.New(shopsystem.Config{}), echosystem.New()},
			[]string{"--system", "echo"}, "System echo implements no scenarios.Speaker"},
		{"no speaker in the binary", []harness.System{echosystem.New()}, nil,
			"No system of this binary implements scenarios.Speaker"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"new", "scenario", "tick", "--dir", dir}, tt.args...)
			code, stdout, stderr := edload(t, tt.systems, args...)
			path := filepath.Join(dir, "tick.yaml")
			if code != 0 || stdout != "wrote "+path+"\n" {
				t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
			}
			sc, err := scenarios.ParseFile(path, &scenarios.Vocabulary{})
			if err != nil {
				t.Fatalf("the skeleton does not parse: %v", err)
			}
			if len(sc.When) != 1 || sc.When[0].Elapse != time.Second || sc.Setup != nil {
				t.Errorf("when %+v, setup %v; want one elapse and no setup", sc.When, sc.Setup)
			}
			if b, _ := os.ReadFile(path); !strings.Contains(string(b), tt.want) {
				t.Errorf("the skeleton lacks %q:\n%s", tt.want, b)
			}
		})
	}
}
