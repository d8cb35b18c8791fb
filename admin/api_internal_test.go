package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/npmtest"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// documented returns the operations of openapi.json as "METHOD /path".
func documented(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// The routes and the document agree, both ways: every operation the mux
// serves is documented, and every documented operation reaches its own
// route on the mux Register fills (not the catch-all).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	registered := []string{"GET /api/v1/openapi.json"}
	for _, rt := range routes {
		registered = append(registered, rt.method+" "+rt.path)
	}
	slices.Sort(registered)
	docOps := documented(t)
	for _, op := range registered {
		if !slices.Contains(docOps, op) {
			t.Errorf("routed but not documented: %s", op)
		}
	}
	mux := http.NewServeMux()
	NewAPI(APIConfig{}).Register(mux)
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, op := range docOps {
		method, path, _ := strings.Cut(op, " ")
		req := httptest.NewRequest(method, param.ReplaceAllString(path, "x1"), nil)
		if _, pattern := mux.Handler(req); pattern != op {
			t.Errorf("documented but not routed: %s (the mux answers it with %q)", op, pattern)
		}
	}
	if len(docOps) != len(registered) {
		t.Errorf("%d operations documented, %d routed", len(docOps), len(registered))
	}
}

// An independent validator (swagger-parser, from the npm registry) finds
// the document valid OpenAPI 3.1, every $ref resolved.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	node := npmtest.Tool(t, "node")
	dir := npmtest.Install(t, filepath.Join("testdata", "openapi"))
	doc := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(doc, openAPIDocument, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "validate.js", doc)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("swagger-parser: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// A second request with an Idempotency-Key while the first still runs is
// 409, and runs nothing.
func TestIdempotencyKeyWhileRunning(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := directory.NewService(directory.Config{Store: s})
		a, err := svc.CreateAccount(ctx, directory.Actor{Source: directory.SourceCLI}, directory.NewAccount{Slug: "alpha", Name: "Alpha"})
		if err != nil {
			t.Fatal(err)
		}
		secret, key, err := svc.CreateAPIKey(ctx, a.ID, directory.Actor{Source: directory.SourceCLI}, "sync")
		if err != nil {
			t.Fatal(err)
		}
		body := `{"name": "Okta"}`
		path := "/api/v1/accounts/alpha/scim-tokens"
		// The first request has claimed the key and not finished.
		if st, _, err := svc.BeginIdempotent(ctx, key, "k", idempotencyRequest("POST", path, []byte(body))); err != nil || st != directory.IdempotencyNew {
			t.Fatal(st, err)
		}
		mux := http.NewServeMux()
		NewAPI(APIConfig{Directory: svc}).Register(mux)
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Idempotency-Key", "k")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "idempotency_key_in_use") {
			t.Errorf("while running: %d %s", w.Code, w.Body)
		}
		if tokens, _ := svc.SCIMTokens(ctx, a.ID); len(tokens) != 0 {
			t.Errorf("the duplicate ran: %d tokens", len(tokens))
		}
	})
}

// The body parser answers anything with a value or a 400 problem, never a
// panic, and what it accepts is one object of the operation's fields.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@b.test","first_name":"A","last_name":"B","role":"admin","password":"x","invite":false}`,
		`{}`, ``, `[]`, `{"email":5}`, `{"unknown":1}`, `{"email":"a"} {}`, `{"email":"\u0000"}`, `nul`, `{"invite":"yes"}`,
		`{"email":"a","email":"b"}`, "\xff\xfe", `{"a":{"b":[1,2,{"c":null}]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in newMemberJSON
		err := decodeJSON(body, &in)
		if err != nil {
			p := problemOf(err)
			if p.status != http.StatusBadRequest || p.detail == "" {
				t.Fatalf("%q: %+v", body, p)
			}
			return
		}
		// Accepted: re-encoding and decoding again gives the same value.
		again, _ := json.Marshal(in)
		var back newMemberJSON
		if err := decodeJSON(again, &back); err != nil || back != in {
			t.Fatalf("%q: round trip %+v -> %+v (%v)", body, in, back, err)
		}
	})
}

// TestProblemOfEveryKind: each error kind has its status, and an outage of
// the database is a 503 that says when to come back, never a 500.
func TestProblemOfEveryKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{directory.NotFoundError("x"), http.StatusNotFound},
		{directory.ConflictError("x"), http.StatusConflict},
		{directory.InvalidError("x"), http.StatusBadRequest},
		{directory.ForbiddenError("x"), http.StatusForbidden},
		{directory.UnauthenticatedError("x"), http.StatusUnauthorized},
		{directory.GoneError("x"), http.StatusGone},
		{directory.PreconditionFailedError("x"), http.StatusPreconditionFailed},
		{directory.UnavailableError(errors.New("connection refused")), http.StatusServiceUnavailable},
		{errors.New("a bug"), http.StatusInternalServerError},
	} {
		rec := httptest.NewRecorder()
		(&API{log: slog.New(slog.DiscardHandler)}).writeProblem(rec, httptest.NewRequest("GET", "/api/v1/accounts", nil), tc.err)
		if rec.Code != tc.want {
			t.Errorf("%v: status %d, want %d", tc.err, rec.Code, tc.want)
		}
		if got := rec.Header().Get("Retry-After"); (tc.want == http.StatusServiceUnavailable) != (got != "") {
			t.Errorf("%v: Retry-After %q", tc.err, got)
		}
	}
}
