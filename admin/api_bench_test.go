package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/admit-dev/admit/admin"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// BenchmarkAPIMembers100k measures a members page of the JSON API over an
// account of 100,000 members, as the server spends it (key check, listing,
// encoding): the first page, a page deep in the listing, a search and a
// filter, and the replay of an idempotent POST.
func BenchmarkAPIMembers100k(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, st *store.Store) {
		ctx := context.Background()
		svc := directory.NewService(directory.Config{Store: st, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
		a, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "big", Name: "Big"})
		if err != nil {
			b.Fatal(err)
		}
		storetest.SeedMembers(b, st, a.ID, "user", 100_000)
		if _, err := st.DB().ExecContext(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
		key, _, err := svc.CreateAPIKey(ctx, a.ID, operator, "bench")
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		admin.NewAPI(admin.APIConfig{Directory: svc}).Register(mux)
		deep, err := svc.ListMembersBy(ctx, a.ID, directory.MemberFilter{Search: "user099"}, "", 1)
		if err != nil || deep.Next == "" {
			b.Fatal("no cursor deep in the listing", err)
		}
		run := func(b *testing.B, method, target, body string, want int) {
			for b.Loop() {
				req := httptest.NewRequest(method, target, nil)
				if body != "" {
					req = httptest.NewRequest(method, target, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Idempotency-Key", "bench")
				}
				req.Header.Set("Authorization", "Bearer "+key)
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, req)
				if w.Code != want {
					b.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
				}
				_, _ = io.Copy(io.Discard, w.Body)
			}
		}
		base := "/api/v1/accounts/big/members"
		b.Run("first-page", func(b *testing.B) { run(b, "GET", base+"?limit=50", "", 200) })
		b.Run("deep-page", func(b *testing.B) { run(b, "GET", base+"?limit=50&after="+url.QueryEscape(deep.Next), "", 200) })
		b.Run("search", func(b *testing.B) { run(b, "GET", base+"?search=grace", "", 200) })
		b.Run("status-filter", func(b *testing.B) { run(b, "GET", base+"?status=invited", "", 200) })
		b.Run("idempotent-replay", func(b *testing.B) {
			run(b, "POST", "/api/v1/accounts/big/scim-tokens", `{"name":"bench"}`, 201)
		})
	})
}
