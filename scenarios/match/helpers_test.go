package match

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// parseYAML reads src into its document node, failing the test on a YAML
// syntax error: these tests are about what comes after.
func parseYAML(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	if len(doc.Content) != 1 {
		t.Fatalf("yaml: want one document, got %d nodes", len(doc.Content))
	}
	return doc.Content[0]
}

// wantProblem asserts that probs holds exactly one problem, at line:col,
// whose message contains msg.
func wantProblem(t *testing.T, probs []yamlfile.Problem, line, col int, msg string) {
	t.Helper()
	if len(probs) != 1 {
		t.Fatalf("want 1 problem, got %d: %v", len(probs), describe(probs))
	}
	p := probs[0]
	if p.Node.Line != line || p.Node.Column != col || !strings.Contains(p.Msg, msg) {
		t.Errorf("got %d:%d %q, want %d:%d containing %q", p.Node.Line, p.Node.Column, p.Msg, line, col, msg)
	}
}

func describe(probs []yamlfile.Problem) []string {
	out := make([]string, len(probs))
	for i, p := range probs {
		out[i] = p.Msg
	}
	return out
}
