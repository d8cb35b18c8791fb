package fetch_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// outboundClients are what makes a request past this package's rules:
// net/http's own clients and transports, and clients made anew.
var outboundClients = map[string]string{
	"DefaultClient": "net/http's default client", "DefaultTransport": "net/http's default transport",
	"Get": "http.Get", "Head": "http.Head", "Post": "http.Post", "PostForm": "http.PostForm",
	"Client": "a new http.Client", "Transport": "a new http.Transport",
}

// TestNoOtherOutboundClient: apart from this package and tests, no code of
// admit's makes an HTTP client or uses net/http's default one, so that
// every outbound request passes the rules here (DESIGN rule 11). Types in
// signatures are fine; values are not.
func TestNoOtherOutboundClient(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			// This package; test-support packages (servers for tests);
			// what the go tool ignores; and programs that are not admit but
			// its clients (the demo's identity providers, portal and apps,
			// the load driver), whose requests go to admit, not for it.
			name := d.Name()
			if rel == "fetch" || rel == "examples" || rel == filepath.Join("cmd", "admit-load") || strings.HasSuffix(name, "test") || name == "testdata" || (strings.HasPrefix(name, ".") && rel != ".") || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		httpName := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "net/http" {
				httpName = "http"
				if imp.Name != nil {
					httpName = imp.Name.Name
				}
			}
		}
		if httpName == "" {
			return nil
		}
		isHTTP := func(e ast.Expr) (string, bool) {
			sel, ok := e.(*ast.SelectorExpr)
			if !ok {
				return "", false
			}
			x, ok := sel.X.(*ast.Ident)
			return sel.Sel.Name, ok && x.Name == httpName
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var name string
			var found bool
			switch n := n.(type) {
			case *ast.CompositeLit:
				// http.Client{...}, http.Transport{...}
				name, found = isHTTP(n.Type)
				found = found && (name == "Client" || name == "Transport")
			case *ast.CallExpr:
				if fn, ok := n.Fun.(*ast.Ident); ok && fn.Name == "new" && len(n.Args) == 1 {
					name, found = isHTTP(n.Args[0])
					found = found && (name == "Client" || name == "Transport")
				} else {
					name, found = isHTTP(n.Fun)
					found = found && (name == "Get" || name == "Head" || name == "Post" || name == "PostForm")
				}
			case *ast.SelectorExpr:
				name, found = isHTTP(n)
				found = found && (name == "DefaultClient" || name == "DefaultTransport")
			}
			if found {
				t.Errorf("%s: %s; outbound requests go through package fetch", fset.Position(n.Pos()), outboundClients[name])
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d files under %s", checked, root)
	}
}
