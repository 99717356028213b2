package schema_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/edkit-dev/edkit/harness/schema"
)

// The customer's name was one field in v1 and is two in v2.
const (
	customerV1 = `{"type":"object","additionalProperties":false,"required":["id","name"],
		"properties":{"id":{"type":"string"},"name":{"type":"string","minLength":1}}}`
	customerV2 = `{"type":"object","additionalProperties":false,"required":["id","first","last"],
		"properties":{"id":{"type":"string"},"first":{"type":"string","minLength":1},"last":{"type":"string"}}}`
)

// splitName is a correct upcaster from v1 to v2.
func splitName(b []byte) ([]byte, error) {
	var v1 struct{ ID, Name string }
	if err := json.Unmarshal(b, &v1); err != nil {
		return nil, err
	}
	first, last, _ := strings.Cut(v1.Name, " ")
	return json.Marshal(map[string]string{"id": v1.ID, "first": first, "last": last})
}

func TestCheckUpcast(t *testing.T) {
	v1, v2 := mustParse(t, "customer.v1.json", customerV1), mustParse(t, "customer.v2.json", customerV2)
	samples := [][]byte{
		[]byte(`{"id":"c1","name":"Ada Lovelace"}`),
		[]byte(`{"id":"c2","name":"Plato"}`),
	}
	if err := schema.CheckUpcast(v1, v2, samples, splitName); err != nil {
		t.Fatalf("a correct upcaster failed: %v", err)
	}

	tests := []struct {
		name    string
		samples [][]byte
		up      func([]byte) ([]byte, error)
		index   int
		stage   string
		want    string
	}{
		{"forgets a required field", samples[1:], func(b []byte) ([]byte, error) {
			var v1 struct{ ID, Name string }
			err := json.Unmarshal(b, &v1)
			out, _ := json.Marshal(map[string]string{"id": v1.ID, "first": v1.Name}) // no "last"
			return out, err
		}, 0, schema.StageNew, `missing property 'last'`},
		{"keeps the old field", samples, func(b []byte) ([]byte, error) {
			return []byte(strings.Replace(string(b), `"name"`, `"first":"x","last":"y","name"`, 1)), nil
		}, 0, schema.StageNew, `additional properties 'name' not allowed`},
		{"fails", samples, func([]byte) ([]byte, error) { return nil, errors.New("boom") }, 0, schema.StageUpcast, "boom"},
		{"panics", samples, func([]byte) ([]byte, error) { panic("oops") }, 0, schema.StageUpcast, "panic: oops"},
		{"returns no JSON", samples, func([]byte) ([]byte, error) { return []byte("not json"), nil }, 0, schema.StageNew, "not JSON"},
		{"sample not valid for v1", [][]byte{samples[0], []byte(`{"id":"c3"}`)}, splitName, 1, schema.StageOld, `missing property 'name'`},
		{"sample not JSON", [][]byte{[]byte(`{"id":`)}, splitName, 0, schema.StageOld, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := schema.CheckUpcast(v1, v2, tt.samples, tt.up)
			var ue *schema.UpcastError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v, want an *UpcastError", err)
			}
			if ue.Index != tt.index || ue.Stage != tt.stage {
				t.Errorf("sample %d at %q, want sample %d at %q", ue.Index, ue.Stage, tt.index, tt.stage)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "sample ") {
				t.Errorf("error %q, want it to name the sample and %q", err, tt.want)
			}
		})
	}
	if err := schema.CheckUpcast(nil, v2, samples, splitName); err == nil {
		t.Error("nil schema: no error")
	}
}
