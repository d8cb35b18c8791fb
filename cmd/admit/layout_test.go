package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/admit-dev/admit"

// allowedImports is DESIGN.md's dependency rule as a table: which of admit's
// own packages each package may import. Arrows point inward (entry points ->
// directory, store -> directory), never sideways between entry points. A new
// package must be added here, which makes its place in the layout a decision.
var allowedImports = map[string][]string{
	"directory":         {},
	"store":             {"directory"},
	"store/storetest":   {"store", "directory"},
	"store/pgtest":      {},
	"web":               {"directory"},
	"certs":             {"directory"},
	"sso":               {"directory", "web", "certs", "fetch"},
	"fetch":             {},
	"scim":              {"directory", "web"},
	"login":             {"directory", "web"},
	"invite":            {"directory", "web"},
	"admin":             {"directory", "web", "certs"},
	"mail":              {"directory", "web"},
	"events":            {"directory"},
	"mail/smtptest":     {},
	"directory/dnstest": {},
	"npmtest":           {},
	"daemontest":        {},
	"sso/oidctest":      {},
	"gate/h2ctest":      {},
	"provider":          {"directory", "web", "certs", "fetch"},
	"gate":              {"directory", "web", "certs"},
	"examples/demo":     {"npmtest"}, // drives the built binary, as an operator does
	"examples/apps/go":  {},
	"examples":          {}, // only the documentation links test
	"bulk":              {"directory", "web"},
	"cmd/admit":         nil,                                 // the wiring may import anything
	"cmd/admit-load":    {"store/pgtest", "store/storetest"}, // measures a built admit from outside
}

// forbiddenInCore are outside packages the core must never depend on
// directly: directory speaks no HTTP, SQL or identity protocol.
var forbiddenInCore = []string{"net/http", "database/sql", "github.com/jmoiron/sqlx", "github.com/lib/pq", "modernc.org/sqlite",
	"github.com/crewjam/saml", "github.com/coreos/go-oidc/v3/oidc", "golang.org/x/oauth2", "github.com/elimity-com/scim"}

func TestPackageDependenciesPointInward(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		allowed, known := allowedImports[pkg]
		if !known {
			t.Errorf("package %s is not in allowedImports: decide where it sits in the layout", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if pkg == "directory" && slices.Contains(forbiddenInCore, imp) {
				t.Errorf("directory imports %s: the core must not know HTTP, SQL or protocols", imp)
			}
			own, ok := strings.CutPrefix(imp, module+"/")
			if !ok || allowed == nil {
				continue
			}
			if !slices.Contains(allowed, own) {
				t.Errorf("%s imports %s; it may import only %v", pkg, own, allowed)
			}
		}
	}
}
