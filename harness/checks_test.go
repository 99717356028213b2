package harness

import (
	"strings"
	"testing"
)

func TestParseChecks(t *testing.T) {
	good := `{"system": "shop", "consumers": {"in": ["worker"]}, "profile": {"name": "at-least-once", "duplicate_delivery": true}, "order": "key", "quiesced": true}`
	c, err := parseChecks("checks.json", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if cs, err := c.Checkers(); err != nil || len(cs) != 6 {
		t.Fatalf("Checkers = %d, %v", len(cs), err)
	}
	bad := []struct{ in, want string }{
		{"{\n  \"system\": 3\n}", "checks.json:2:"},
		{"{\"order\": \"sideways\"}", `order "sideways"`},
		{"{\"consumers\": {\"in\": []}}", `topic "in" needs a name and at least one group`},
		{"{\"extra\": 1}", "unknown field"},
		{"{", "checks.json"},
	}
	for _, b := range bad {
		if _, err := parseChecks("checks.json", []byte(b.in)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("parseChecks(%q) = %v, want an error containing %q", b.in, err, b.want)
		}
	}
}

func FuzzParseChecks(f *testing.F) {
	f.Add([]byte(`{"system": "shop", "consumers": {"in": ["worker"]}, "order": "stamp"}`))
	f.Add([]byte(`{"profile": {"name": "exactly-once"}, "busy": true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseChecks("checks.json", b)
		if err != nil {
			return
		}
		if _, err := c.Checkers(); err != nil {
			t.Fatalf("accepted checks whose checkers fail: %v", err)
		}
	})
}
