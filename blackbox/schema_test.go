package blackbox_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/blackbox"
	"github.com/edkit-dev/edkit/harness/jsonvalue"
	"github.com/edkit-dev/edkit/harness/yamlfile"
)

func compileWorkloadSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(blackbox.WorkloadSchema))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jsonvalue.CompileSchema("inline:///workload.schema.json", doc, os.ErrNotExist)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateYAML(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		t.Fatal(err)
	}
	js, probs := yamlfile.JSON(n.Content[0], "workload")
	if len(probs) > 0 {
		t.Fatalf("%v", probs)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(doc)
}

// TestSchemaAcceptsShippedWorkloads: every workload the project ships meets
// the published schema, as it meets the parser.
func TestSchemaAcceptsShippedWorkloads(t *testing.T) {
	s := compileWorkloadSchema(t)
	files, _ := filepath.Glob("testdata/*.yaml")
	bank, _ := filepath.Glob("../examples/bank/workloads/*.yaml")
	for _, f := range bank {
		if !strings.HasSuffix(f, ".asyncapi.yaml") {
			files = append(files, f)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := blackbox.Parse(f, data); err != nil {
			t.Fatalf("%s: the parser refuses it: %v", f, err)
		}
		if err := validateYAML(t, s, data); err != nil {
			t.Errorf("%s: the schema refuses it: %v", f, err)
		}
	}
}

// TestSchemaRefusesWhatTheParserRefuses: the schema's shape checks fail
// where the parser does, so an editor warns before edload does.
func TestSchemaRefusesWhatTheParserRefuses(t *testing.T) {
	s := compileWorkloadSchema(t)
	for _, body := range []string{
		goodHead + "inputs: [{name: a, topic: in, payload: x}]\nspeed: 3\n",
		"name: w\ncorrelation: {header: c, input: /id, output: /id}\noutputs: [{topic: out}]\ninputs: [{name: a, topic: in, payload: x}]\n",
		goodHead + "inputs: [{name: a, topic: in}]\n",
		goodHead + "broker: {kind: pigeon}\ninputs: [{name: a, topic: in, payload: x}]\n",
		goodHead + "inputs: [{name: a, topic: in, payload: x, expect: [{topic: out, within: soon}]}]\n",
	} {
		if err := validateYAML(t, s, []byte(body)); err == nil {
			t.Errorf("the schema accepts:\n%s", body)
		}
		if _, err := blackbox.Parse("w.yaml", []byte(body)); err == nil {
			t.Errorf("the parser accepts:\n%s", body)
		}
	}
	if !strings.Contains(string(blackbox.WorkloadSchema), `"$id"`) {
		t.Error("the schema has no $id")
	}
}
