package asyncapi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/blackbox/asyncapi"
)

// TestValidate: a good AccountEvent passes, in both documents; each bad
// one fails with a *PayloadError whose pointer names the place that breaks
// the schema.
func TestValidate(t *testing.T) {
	const good = `{"eventId":"5f0c7f4e-3a59-4d5e-9a43-2b8e1c6d7a10","accountId":"0b6e2f8a-91c4-4f0e-8d2a-6c1e9b7d3f55","type":"AccountCredited","version":3,"balance":1200,"at":"2026-05-01T10:00:00Z","reason":null}`
	bad := []struct{ name, payload, pointer, reason string }{
		{"enum", strings.Replace(good, "AccountCredited", "Credited", 1), "/type", "value must be one of"},
		{"range", strings.Replace(good, `"version":3`, `"version":0`, 1), "/version", "minimum"},
		{"type", strings.Replace(good, `"balance":1200`, `"balance":12.5`, 1), "/balance", "want integer"},
		{"format", strings.Replace(good, "2026-05-01T10:00:00Z", "yesterday", 1), "/at", "date-time"},
		{"uuid", strings.Replace(good, "5f0c7f4e-", "5f0c7f4e", 1), "/eventId", "uuid"},
		{"required", strings.Replace(good, `"version":3,`, "", 1), "", "missing property 'version'"},
		{"not JSON", `{"eventId":`, "", "not JSON"},
		{"trailing data", good + " {}", "", "not JSON"},
		{"huge number", strings.Replace(good, `"balance":1200`, `"balance":1e999999`, 1), "/balance", "number 1e999999 is too large to check"},
	}
	for _, file := range []string{"testdata/accounts-3.0.yaml", "testdata/accounts-2.6.yaml"} {
		d, err := asyncapi.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m := d.Outputs()[0].Messages[0]
		if err := asyncapi.Validate(m, []byte(good)); err != nil {
			t.Errorf("%s: good payload refused: %v", file, err)
		}
		for _, c := range bad {
			t.Run(file+"/"+c.name, func(t *testing.T) {
				err := asyncapi.Validate(m, []byte(c.payload))
				var pe *asyncapi.PayloadError
				if !errors.As(err, &pe) || !errors.Is(err, asyncapi.ErrInvalidPayload) {
					t.Fatalf("got %v, want a *PayloadError", err)
				}
				if pe.Message != "AccountEvent" || pe.Pointer != c.pointer || !strings.Contains(pe.Reason, c.reason) {
					t.Fatalf("got %+v, want pointer %q and a reason with %q", pe, c.pointer, c.reason)
				}
				if !strings.HasPrefix(err.Error(), "message AccountEvent: payload at ") {
					t.Fatalf("error %q", err)
				}
			})
		}
	}
}

// TestValidateWithoutSchema: a Message not read by Parse has no schema to
// check against, and Validate says so instead of passing everything.
func TestValidateWithoutSchema(t *testing.T) {
	if err := asyncapi.Validate(asyncapi.Message{Name: "X"}, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "no compiled schema") {
		t.Fatalf("got %v", err)
	}
}
