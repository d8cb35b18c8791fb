package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestAPIOffboarding: an operator key erases a person (by email or user
// id) and deletes an account, which answers 202 while it is not done
// (here after every transaction) and resumes on the next DELETE; an
// account's key may do neither.
func TestAPIOffboarding(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := directory.NewService(directory.Config{Store: s, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
		op := directory.Actor{Source: directory.SourceCLI, Name: "test"}
		acme, err := svc.CreateAccount(ctx, op, directory.NewAccount{Slug: "acme", Name: "Acme", Domains: []string{"acme.example"}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, email := range []string{"ann@acme.example", "bob@acme.example", "cy@acme.example"} {
			added, err := svc.AddUser(ctx, acme.ID, op, directory.NewUser{Email: email, FirstName: "F", LastName: "L"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, added.Member.User.ID)
		}
		opKey, _, err := svc.CreateAPIKey(ctx, "", op, "ops")
		if err != nil {
			t.Fatal(err)
		}
		acmeKey, _, err := svc.CreateAPIKey(ctx, acme.ID, op, "acme")
		if err != nil {
			t.Fatal(err)
		}
		a := NewAPI(APIConfig{Directory: svc})
		mux := http.NewServeMux()
		a.Register(mux)
		do := func(method, path, key string) (int, map[string]any) {
			t.Helper()
			req := httptest.NewRequest(method, path, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			var body map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			return w.Code, body
		}

		if code, _ := do("DELETE", "/api/v1/users/ann@acme.example", acmeKey); code != http.StatusForbidden {
			t.Errorf("an account's key erases: %d; want 403", code)
		}
		if code, body := do("DELETE", "/api/v1/users/ann@acme.example", opKey); code != http.StatusOK || body["user_id"] != ids[0] {
			t.Errorf("erase by email: %d %v", code, body)
		}
		if code, body := do("DELETE", "/api/v1/users/"+ids[1], opKey); code != http.StatusOK || body["email"] != "bob@acme.example" {
			t.Errorf("erase by user id: %d %v", code, body)
		}
		if code, _ := do("DELETE", "/api/v1/users/"+ids[1], opKey); code != http.StatusNotFound {
			t.Errorf("erase twice: %d; want 404", code)
		}

		if code, _ := do("DELETE", "/api/v1/accounts/acme", acmeKey); code != http.StatusForbidden {
			t.Errorf("an account's key deletes its account: %d; want 403", code)
		}
		a.deleteBudget = -1 // every request stops after one transaction
		code, body := do("DELETE", "/api/v1/accounts/acme", opKey)
		if code != http.StatusAccepted || body["done"] != false {
			t.Fatalf("first DELETE: %d %v; want 202, not done", code, body)
		}
		for i := 0; code == http.StatusAccepted; i++ {
			if i > 50 {
				t.Fatal("the deletion never finished")
			}
			code, body = do("DELETE", "/api/v1/accounts/acme", opKey)
		}
		if code != http.StatusOK || body["done"] != true || body["resumed"] != true {
			t.Errorf("last DELETE: %d %v; want 200, done, resumed", code, body)
		}
		if code, _ := do("DELETE", "/api/v1/accounts/acme", opKey); code != http.StatusNotFound {
			t.Errorf("DELETE after the end: %d; want 404", code)
		}
		if _, err := s.FindUser(ctx, ids[2]); directory.KindOf(err) != directory.NotFound {
			t.Errorf("Cy, whose home acme was: %v; want erased", err)
		}
	})
}
