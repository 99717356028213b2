package shopscenario

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/reference/shop"
)

func TestParseBadFiles(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"empty.yaml", []string{"testdata/bad/empty.yaml:1:1: no scenario in file (expected a mapping with name, when and then)"}},
		{"incomplete-command.yaml", []string{"testdata/bad/incomplete-command.yaml:4:14: when[0]: shop: invalid command: PlaceOrder needs customer, items"}},
		{"missing-id.yaml", []string{
			"testdata/bad/missing-id.yaml:5:14: then[0].charges: missing required field count",
			"testdata/bad/missing-id.yaml:6:10: then[1].dlq: missing required field id",
		}},
		{"missing-then.yaml", []string{"testdata/bad/missing-then.yaml:1:1: scenario: missing required field then"}},
		{"not-a-mapping.yaml", []string{"testdata/bad/not-a-mapping.yaml:1:1: scenario: expected a mapping, got a sequence"}},
		{"syntax.yaml", []string{"testdata/bad/syntax.yaml:3:1: invalid YAML: did not find expected ',' or '}'"}},
		{"two-kinds.yaml", []string{
			"testdata/bad/two-kinds.yaml:3:5: when[0]: a step needs exactly one of command, event or poison, found 2",
			`testdata/bad/two-kinds.yaml:7:30: then[0]: order: unknown status "shipped" (want one of placed, confirmed, cancelled)`,
		}},
		{"unknown-command.yaml", []string{`testdata/bad/unknown-command.yaml:5:13: when[0]: shop: invalid command: unknown command type "PlaceOrdr"`}},
		{"unknown-key.yaml", []string{
			`testdata/bad/unknown-key.yaml:6:22: then[0].order: unknown key "stauts" (want one of id, status)`,
			"testdata/bad/unknown-key.yaml:6:12: then[0].order: missing required field status",
		}},
		{"huge-times.yaml", []string{"testdata/bad/huge-times.yaml:4:12: when[0]: times 2147483647: want 0 to 1000"}},
		{"wrong-type.yaml", []string{`testdata/bad/wrong-type.yaml:3:17: setup.stock.book: expected an integer, got "five"`}},
	}
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Fatalf("testdata/bad holds %d files, the table covers %d", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			scs, err := LoadFile(filepath.Join("testdata", "bad", tt.file))
			if err == nil {
				t.Fatalf("parsed %d scenario(s), want an error", len(scs))
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
			if !errors.Is(err, ErrInvalidScenario) {
				t.Errorf("errors.Is(err, ErrInvalidScenario) = false for %v", err)
			}
			for _, e := range flatten(err) {
				var se *SpecError
				if !errors.As(e, &se) || se.Line == 0 || se.Column == 0 || se.File == "" {
					t.Errorf("%v (%T) is not a positioned *SpecError", e, e)
				}
			}
		})
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile("testdata/no-such-file.yaml")
	var se *SpecError
	if !errors.As(err, &se) || se.File != "testdata/no-such-file.yaml" {
		t.Fatalf("err = %v, want a *SpecError naming the file", err)
	}
}

// flatten returns the leaves of a tree of joined errors.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// shopDir holds the shop's scenario files.
const shopDir = "../../../../scenarios/shop"

func TestParseShopFilesMatchDSL(t *testing.T) {
	scs, err := LoadFile(filepath.Join(shopDir, "happy-path.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != 1 {
		t.Fatalf("got %d scenarios, want 1", len(scs))
	}
	want := New("happy path").
		Describe("A customer with credit orders a book that is in stock: stock is reserved, the payment is charged once and the order is confirmed.\n").
		Stock("book", 5).
		Dedup(true).
		When(Command("cmd-1", shop.Command{Type: shop.CmdPlaceOrder, OrderID: "o-1", Customer: "alice",
			Items: []shop.Item{{SKU: "book", Qty: 1}}, AmountCents: 1200})).
		Then(
			OrderStatus("o-1", shop.StatusConfirmed),
			Events("order-o-1", shop.EvtOrderPlaced, shop.EvtOrderConfirmed),
			Commands("o-1", shop.CmdReserveStock, shop.CmdChargePayment, shop.CmdConfirmOrder),
			Charges("o-1", 1),
			StockOnHand("book", 4),
			OrderCount(1),
		).Build()
	got := stripPositions(scs[0])
	if !reflect.DeepEqual(got, want) {
		t.Errorf("YAML and DSL differ:\n yaml %+v\n  dsl %+v", got, want)
	}
}

// stripPositions clears what only a parsed scenario has: where things were
// written.
func stripPositions(sc *Scenario) *Scenario {
	c := *sc
	c.Pos = Pos{}
	c.Given, c.When = stripSteps(sc.Given), stripSteps(sc.When)
	c.Then = nil
	for _, e := range sc.Then {
		e.Pos, e.fields = Pos{}, nil
		c.Then = append(c.Then, e)
	}
	return &c
}

func stripSteps(steps []Step) []Step {
	var out []Step
	for _, s := range steps {
		s.Pos, s.fields = Pos{}, nil
		out = append(out, s)
	}
	return out
}

func TestParseAllKinds(t *testing.T) {
	src := `
name: every kind
timeout: 3s
setup: {stock: {book: 2}, declined: [bob], limitCents: 5000, maxAttempts: 2, dedup: false}
given:
  - event: {id: e-1, stream: order-o-2, type: OrderPlaced, data: {orderId: o-2, items: [{sku: book, qty: 1}], n: 1.5, ok: true, none: null}, metadata: {k: v}}
when:
  - id: cmd-1
    times: 2
    command: {type: CancelOrder, orderId: o-2, reason: changed mind}
  - poison: {id: p-1, topic: shop.commands, key: o-9, payload: "{", headers: {edkit-type: PlaceOrder}}
then:
  - dlq: {id: p-1, attempts: 2, reasonContains: invalid}
---
name: second
when: [{id: c, command: {type: ConfirmOrder, orderId: o-3}}]
then: [{orders: {count: 0}}]
`
	scs, err := Parse("inline.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != 2 {
		t.Fatalf("got %d scenarios, want 2", len(scs))
	}
	sc := scs[0]
	if sc.Timeout.String() != "3s" || sc.Setup.LimitCents != 5000 || sc.Setup.MaxAttempts != 2 || !reflect.DeepEqual(sc.Setup.Declined, []string{"bob"}) {
		t.Errorf("setup/timeout parsed wrong: %+v %s", sc.Setup, sc.Timeout)
	}
	ev := sc.Given[0].Event
	if ev == nil || string(ev.Data) != `{"items":[{"qty":1,"sku":"book"}],"n":1.5,"none":null,"ok":true,"orderId":"o-2"}` || ev.Metadata["k"] != "v" {
		t.Errorf("event parsed wrong: %+v", ev)
	}
	if c := sc.When[0].Command; c == nil || c.Times != 2 || c.Command.Reason != "changed mind" {
		t.Errorf("command parsed wrong: %+v", c)
	}
	if p := sc.When[1].Poison; p == nil || p.Payload != "{" || p.Headers["edkit-type"] != "PlaceOrder" {
		t.Errorf("poison parsed wrong: %+v", p)
	}
	if sc.Then[0].Pos != (Pos{File: "inline.yaml", Line: 13, Column: 5}) {
		t.Errorf("then[0] at %+v, want inline.yaml:13:5", sc.Then[0].Pos)
	}
}

func TestValidateDSLJoinsEveryProblem(t *testing.T) {
	sc := New("").
		Stock("book", -1).
		When(Command("", shop.Command{Type: "Teleport", OrderID: "o-1"}), Poison("", "", "k", "x")).
		Then(OrderStatus("o-1", "lost"), Charges("o-1", -2), Expectation{}).
		Build()
	err := sc.Validate()
	want := []string{
		"scenario needs a name",
		"setup.stock.book: quantity -1 is negative",
		"when[0]: missing required field id (the command ID)",
		`when[0]: shop: invalid command: unknown command type "Teleport"`,
		"when[1]: poison: missing required field id",
		"when[1]: poison: missing required field topic",
		`then[0]: order: unknown status "lost" (want one of placed, confirmed, cancelled)`,
		"then[1]: charges: count -2 is negative",
		"then[2]: an expectation needs exactly one of order, events, commands, charges, stock, dlq or orders, found 0",
	}
	if err == nil {
		t.Fatal("Validate() = nil, want every problem")
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("Validate():\n got %q\nwant %q", got, want)
	}
	for _, e := range flatten(err) {
		var se *SpecError
		if !errors.As(e, &se) {
			t.Errorf("%v is %T, want *SpecError", e, e)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{shopDir, "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("name: x\nwhen: [{event: {id: e, stream: s, type: T, data: {a: [1, 2.5, .inf]}}}]\nthen: [{orders: {count: 1}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		scs, err := Parse("fuzz.yaml", data)
		if err == nil {
			if len(scs) == 0 {
				t.Fatal("no error and no scenario")
			}
			for _, sc := range scs {
				if verr := sc.Validate(); verr != nil {
					t.Fatalf("parsed scenario fails Validate: %v", verr)
				}
			}
			return
		}
		for _, e := range flatten(err) {
			var se *SpecError
			if !errors.As(e, &se) {
				t.Fatalf("error %v is %T, want *SpecError", e, e)
			}
			if se.Line < 1 || se.Column < 1 {
				t.Fatalf("error %v has no position", e)
			}
		}
	})
}
