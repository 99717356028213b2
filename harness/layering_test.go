package harness_test

import (
	"os/exec"
	"strings"
	"testing"
)

// domainPkgs are the reference system's domain packages: the toolkit must
// reach them only through the system contract.
var domainPkgs = []string{
	"github.com/edkit-dev/edkit/reference/shop",
	"github.com/edkit-dev/edkit/reference/service",
}

// knownDomainImports are toolkit packages that still import the shop, each
// with the issue that removes it. The test fails when one of them stops
// (delete it here) or when any other package starts.
var knownDomainImports = map[string]string{}

// TestToolkitDoesNotImportTheDomain walks the dependencies of every toolkit
// package (harness, loadgen, chaos, reports, scenarios, and the CLI package
// every user's edload binary is built from; tests excluded): none may
// depend on the shop. The toolkit is the product; the shop is one
// system among the users' own.
func TestToolkitDoesNotImportTheDomain(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps=false",
		"-f", `{{.ImportPath}}{{"\t"}}{{join .Deps " "}}`,
		"../harness/...", "../loadgen/...", "../chaos/...", "../reports/...", "../scenarios/...", "../cmd/edload/cli").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, "\t")
		checked++
		imports := false
		for _, d := range strings.Fields(deps) {
			for _, dom := range domainPkgs {
				if d == dom {
					imports = true
				}
			}
		}
		why, known := knownDomainImports[pkg]
		switch {
		case imports && !known:
			t.Errorf("%s depends on the domain (%s): the toolkit reaches a system only through harness.System", pkg, strings.Join(domainPkgs, ", "))
		case !imports && known:
			t.Errorf("%s no longer depends on the domain (%s): remove it from knownDomainImports", pkg, why)
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d packages: the walk is broken", checked)
	}
}

// TestHarnessDoesNotImportItsUsers: dependencies point one way, cmd →
// (loadgen, chaos, scenarios, reports) → harness → reference (DESIGN.md):
// no harness package (tests excluded) may depend on scenarios, chaos's
// experiments or the CLI.
func TestHarnessDoesNotImportItsUsers(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-f", `{{.ImportPath}}{{"\t"}}{{join .Deps " "}}`, "../harness/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	users := []string{"github.com/edkit-dev/edkit/scenarios", "github.com/edkit-dev/edkit/cmd/"}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, "\t")
		checked++
		for _, d := range strings.Fields(deps) {
			for _, u := range users {
				if d == u || strings.HasPrefix(d, u+"/") || (strings.HasSuffix(u, "/") && strings.HasPrefix(d, u)) {
					t.Errorf("%s depends on %s: the harness must not import its users", pkg, d)
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d packages: the walk is broken", checked)
	}
}
