package scenarios_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/scenarios"
)

type placeOrder struct {
	OrderID string `json:"orderId"`
	Qty     int    `json:"qty"`
}

type setup struct {
	Stock map[string]int `json:"stock"`
}

func vocab() *scenarios.Vocabulary {
	v := &scenarios.Vocabulary{}
	scenarios.Define[placeOrder](v, scenarios.KindCommand, "PlaceOrder")
	scenarios.Define[placeOrder](v, scenarios.KindEvent, "OrderPlaced")
	return scenarios.Setup[setup](v)
}

const good = `name: ok
setup: {stock: {book: 2}}
given:
  - event: OrderPlaced
    stream: order-o-0
    with: {orderId: o-0, qty: 1}
when:
  - command: PlaceOrder
    id: c-1
    times: 2
    with: {orderId: o-1, qty: 1}
  - message: Raw
    topic: t
    key: k
    payload: "not json"
  - elapse: 30m
then:
  - events: {stream: order-o-1, types: [OrderPlaced]}
  - event: {stream: order-o-1, type: OrderPlaced, match: {where: {/qty: 1}}, count: 1}
  - messages: {topic: t, types: [Raw]}
  - view: {name: order, id: o-1, match: {equals: {status: confirmed}}}
  - dead-letter: {id: p-1, attempts: 3, reason: bad}
  - invariant: money-conserved
`

func TestParse(t *testing.T) {
	sc, err := scenarios.Parse("good.yaml", []byte(good), vocab())
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Given) != 1 || len(sc.When) != 3 || len(sc.Then) != 6 || !sc.Dedup {
		t.Fatalf("parsed %d given, %d when, %d then, dedup %v", len(sc.Given), len(sc.When), len(sc.Then), sc.Dedup)
	}
	if c, ok := sc.When[0].Value.(*placeOrder); !ok || c.OrderID != "o-1" || sc.When[0].Times != 2 {
		t.Errorf("command decoded as %#v, times %d", sc.When[0].Value, sc.When[0].Times)
	}
	if s := sc.Setup.(*setup); s.Stock["book"] != 2 {
		t.Errorf("setup decoded as %#v", s)
	}
	if sc.When[2].Elapse.Minutes() != 30 || string(sc.When[1].Data) != "not json" {
		t.Errorf("elapse %v, raw payload %q", sc.When[2].Elapse, sc.When[1].Data)
	}
}

// TestParseErrors: each bad file is an ErrInvalidScenario at the line and
// column of what is wrong, saying what was expected.
func TestParseErrors(t *testing.T) {
	base := "name: x\nwhen:\n"
	for _, tc := range []struct{ name, src, want string }{
		{"unknown command", base + "  - command: Nope\nthen: []\n", `f.yaml:3:14: when[0]: unknown command type "Nope" (the system registers: [PlaceOrder])`},
		{"misspelt field", base + "  - command: PlaceOrder\n    with: {orderNo: o}\nthen: []\n", `f.yaml:4:11: when[0].with: json: unknown field "orderNo"`},
		{"wrong type", base + "  - command: PlaceOrder\n    with: {qty: many}\nthen: []\n", `f.yaml:4:11: when[0].with: json: cannot unmarshal string`},
		{"two kinds", base + "  - {command: PlaceOrder, elapse: 1m}\nthen: []\n", `f.yaml:3:5: when[0]: want exactly one of command, event, message, elapse`},
		{"key of another kind", base + "  - {elapse: 1m, topic: t}\nthen: []\n", `f.yaml:3:18: when[0]: "topic" does not apply here`},
		{"event without stream", base + "  - event: OrderPlaced\nthen: []\n", `f.yaml:3:5: when[0]: an event needs its stream`},
		{"bad duration", base + "  - elapse: forever\nthen: []\n", `f.yaml:3:13: when[0].elapse: expected a positive duration`},
		{"huge times", base + "  - {command: PlaceOrder, times: 100000000}\nthen: []\n", `f.yaml:3:34: when[0].times: expected a whole number from 1 to 1000`},
		{"missing then", base + "  - elapse: 1m\n", `f.yaml:1:1: scenario: missing "then"`},
		{"unknown expectation", base + "  - elapse: 1m\nthen:\n  - order: {id: o}\n", `f.yaml:5:5: then[0]: unknown key "order"`},
		{"view without id", base + "  - elapse: 1m\nthen:\n  - view: {name: order}\n", `f.yaml:5:11: then[0].view: missing "id"`},
		{"bad pointer", base + "  - elapse: 1m\nthen:\n  - event: {stream: s, type: T, match: {where: {status: x}}}\n", `f.yaml:5:`},
		{"setup refused", "name: x\nsetup: {stock: {book: many}}\nwhen: []\nthen: []\n", `f.yaml:2:8: setup: json: cannot unmarshal`},
		{"duplicate key", "name: x\nname: y\nwhen: []\nthen: []\n", `f.yaml:2:1: scenario: duplicate key "name"`},
		{"not a mapping", "- a\n", `f.yaml:1:1: scenario: expected a mapping, got a sequence`},
		{"empty", "", `f.yaml: empty file`},
		{"empty name", "name: ''\nwhen: []\nthen: []\n", `f.yaml:1:7: name: want a name for the reports, got an empty string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.Parse("f.yaml", []byte(tc.src), vocab())
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, scenarios.ErrInvalidScenario) {
				t.Errorf("%v is not ErrInvalidScenario", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got\n  %v\nwant it to contain\n  %s", err, tc.want)
			}
		})
	}
}

// FuzzParse: no input makes the parser panic, and what it accepts has a
// name and its expectations.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("name: x\nwhen: [{elapse: 1m}]\nthen: [{invariant: a}]\n"))
	f.Add([]byte("name: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := scenarios.Parse("fuzz.yaml", data, vocab())
		if err == nil && sc.Name == "" && sc.Then == nil && sc.When == nil {
			t.Fatalf("accepted a scenario with nothing in it: %q", data)
		}
	})
}
