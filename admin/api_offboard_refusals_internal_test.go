package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestAPIOffboardingRefusals: only an operator key erases or deletes.
// Another account's key, the account's own, a SCIM token, no key: refused,
// and nothing changes. Bad input is a problem, never a 500.
func TestAPIOffboardingRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := directory.NewService(directory.Config{Store: s, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
		op := directory.Actor{Source: directory.SourceCLI, Name: "test"}
		var accounts []directory.Account
		for _, slug := range []string{"acme", "beta"} {
			a, err := svc.CreateAccount(ctx, op, directory.NewAccount{Slug: slug, Name: slug, Domains: []string{slug + ".example"}})
			if err != nil {
				t.Fatal(err)
			}
			accounts = append(accounts, a)
		}
		acme, beta := accounts[0], accounts[1]
		ann, err := svc.AddUser(ctx, acme.ID, op, directory.NewUser{Email: "ann@acme.example", FirstName: "F", LastName: "L"})
		if err != nil {
			t.Fatal(err)
		}
		acmeKey, _, err := svc.CreateAPIKey(ctx, acme.ID, op, "acme")
		if err != nil {
			t.Fatal(err)
		}
		betaKey, _, err := svc.CreateAPIKey(ctx, beta.ID, op, "beta")
		if err != nil {
			t.Fatal(err)
		}
		scim, _, err := svc.CreateSCIMToken(ctx, acme.ID, op, "idp")
		if err != nil {
			t.Fatal(err)
		}
		opKey, _, err := svc.CreateAPIKey(ctx, "", op, "ops")
		if err != nil {
			t.Fatal(err)
		}
		a := NewAPI(APIConfig{Directory: svc})
		mux := http.NewServeMux()
		a.Register(mux)
		do := func(path, key string) (int, map[string]any) {
			t.Helper()
			req := httptest.NewRequest("DELETE", path, nil)
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			var body map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if ct := w.Header().Get("Content-Type"); w.Code >= 400 && !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("DELETE %s: %d as %q; want a problem", path, w.Code, ct)
			}
			return w.Code, body
		}
		for _, tc := range []struct {
			name, key string
			want      int
		}{
			{"the account's own key", acmeKey, http.StatusForbidden},
			{"another account's key", betaKey, http.StatusForbidden},
			{"a SCIM token", scim, http.StatusUnauthorized},
			{"no key", "", http.StatusUnauthorized},
		} {
			for _, path := range []string{"/api/v1/accounts/acme", "/api/v1/users/ann@acme.example", "/api/v1/users/" + ann.Member.User.ID} {
				if code, _ := do(path, tc.key); code != tc.want {
					t.Errorf("%s: DELETE %s: %d; want %d", tc.name, path, code, tc.want)
				}
			}
		}
		if _, err := svc.Account(ctx, "acme"); err != nil {
			t.Errorf("acme after the refusals: %v", err)
		}
		if _, err := s.FindUser(ctx, ann.Member.User.ID); err != nil {
			t.Errorf("Ann after the refusals: %v", err)
		}
		for path, want := range map[string]int{
			"/api/v1/accounts/nope":                      http.StatusNotFound,
			"/api/v1/accounts/" + acme.ID:                http.StatusNotFound, // slugs only
			"/api/v1/users/nobody@acme.example":          http.StatusNotFound,
			"/api/v1/users/not@an@email":                 http.StatusBadRequest,
			"/api/v1/users/%20":                          http.StatusNotFound,
			"/api/v1/users/%00":                          http.StatusNotFound, // was a 500 on PostgreSQL
			"/api/v1/users/%ff":                          http.StatusNotFound,
			"/api/v1/accounts/%00":                       http.StatusNotFound,
			"/api/v1/accounts/%ff":                       http.StatusNotFound,
			"/api/v1/users/" + strings.Repeat("x", 5000): http.StatusNotFound,
		} {
			if code, body := do(path, opKey); code != want {
				t.Errorf("DELETE %s: %d %v; want %d", path[:min(len(path), 60)], code, body, want)
			}
		}
		// beta's only owner: 409 naming beta, unless orphan_ok=true.
		if _, err := svc.AddUser(ctx, beta.ID, op, directory.NewUser{Email: "bo@beta.example", FirstName: "F", LastName: "L", Role: directory.RoleOwner}); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"", "?orphan_ok=false", "?orphan_ok=maybe", "?orphan_ok=", "?orphan_ok=%00", "?orphan_ok=%ff", "?orphan_ok=true%00"} {
			want := http.StatusConflict
			if q != "" && q != "?orphan_ok=false" {
				want = http.StatusBadRequest
			}
			if code, body := do("/api/v1/users/bo@beta.example"+q, opKey); code != want || (want == http.StatusConflict && !strings.Contains(fmt.Sprint(body), "last active owner of beta")) {
				t.Errorf("erasing beta's last owner%s: %d %v; want %d", q, code, body, want)
			}
		}
		if code, body := do("/api/v1/users/bo@beta.example?orphan_ok=true", opKey); code != http.StatusOK || fmt.Sprint(body["orphaned"]) != "[beta]" {
			t.Errorf("erasing beta's last owner with orphan_ok=true: %d %v; want 200, beta orphaned", code, body)
		}
	})
}
