package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/admit-dev/admit/admin"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

// BenchmarkUsersPage100k measures the whole Users page (session check,
// listing, count, rendering) of an account of 100,000 members, as the
// server spends it: the first page, a page deep in the listing, searches
// with many and few matches, and each filter, common and rare.
func BenchmarkUsersPage100k(b *testing.B) {
	const members = 100_000
	storetest.EachB(b, func(b *testing.B, st *store.Store) {
		ctx := context.Background()
		svc := directory.NewService(directory.Config{Store: st, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
		a, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "big", Name: "Big"})
		if err != nil {
			b.Fatal(err)
		}
		other, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "other", Name: "Other"})
		if err != nil {
			b.Fatal(err)
		}
		storetest.SeedMembers(b, st, other.ID, "other", 1000)
		storetest.SeedMembers(b, st, a.ID, "user", members)
		// A realistic mix: a tenth invited (a tenth of whose invitations
		// bounced), one in a hundred deactivated, a fifth from SCIM, and a
		// third who signed in.
		for _, q := range []string{
			`UPDATE memberships SET status = 'invited', source = 'invitation' WHERE account_id = ? AND email_key LIKE '%7@seed.example'`,
			`UPDATE memberships SET status = 'deactivated' WHERE account_id = ? AND email_key LIKE '%00@seed.example'`,
			`UPDATE memberships SET source = 'scim' WHERE account_id = ? AND (email_key LIKE '%1@seed.example' OR email_key LIKE '%2@seed.example')`,
			`UPDATE memberships SET last_sign_in_at = created_at WHERE account_id = ? AND (email_key LIKE '%3@seed.example' OR email_key LIKE '%4@seed.example' OR email_key LIKE '%5@seed.example')`,
			// Every invited person's invitation is open; one in a
			// hundred of them bounced.
			`INSERT INTO invitations (id, account_id, user_id, email, role, inviter_id, status, token_hash, token_nonce, sends, bounce_reason, expires_at, created_at, updated_at)
				SELECT 'inv-' || user_id, account_id, user_id, email_key, role, '', CASE WHEN email_key LIKE '%77@seed.example' THEN 'undeliverable' ELSE 'pending' END,
					'hash-' || user_id, 'nonce', 1, '', created_at, created_at, created_at
				FROM memberships WHERE account_id = ? AND status = 'invited'`,
			`ANALYZE`,
		} {
			args := []any{a.ID}
			if q == `ANALYZE` {
				args = nil
			}
			if _, err := st.DB().ExecContext(ctx, st.DB().Rebind(q), args...); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
		added, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "aaa-owner@big.example", FirstName: "Olive", LastName: "Owner", Role: directory.RoleOwner})
		if err != nil {
			b.Fatal(err)
		}
		token, _, err := svc.StartSession(ctx, added.Member.User.ID, a.ID, directory.ByPassword)
		if err != nil {
			b.Fatal(err)
		}
		pages, err := web.NewRenderer(web.Config{Key: make([]byte, 32)})
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		console, err := admin.New(admin.Config{Directory: svc, Pages: pages})
		if err != nil {
			b.Fatal(err)
		}
		console.Register(mux)
		// A cursor 90,000 members in: the end of a page of one that
		// stops at user089990 (a search for user08999 has ten matches).
		deep, err := svc.ListMembers(ctx, a.ID, "user08999", "", 1)
		if err != nil || deep.Next == "" {
			b.Fatalf("the deep cursor: %v", err)
		}
		deepCursor := deep.Next
		for _, tc := range []struct{ name, query string }{
			{"first-page", ""},
			{"page-90000-in", "after=" + url.QueryEscape(deepCursor)},
			{"search-many-lovelace", "q=lovelace"},
			{"search-few-user0500", "q=user0500"},
			{"status-invited-10pct", "status=invited"},
			{"status-deactivated-1pct", "status=deactivated"},
			{"source-scim-20pct", "source=scim"},
			{"never-signed-in-70pct", "never=1"},
			{"bounced-1pct", "bounced=1"},
			{"bounced-by-name", "bounced=1&sort=name"},
			{"bounced-and-search", "bounced=1&q=ada"},
			{"invited-and-search", "status=invited&q=ada"},
			{"deactivated-and-search", "status=deactivated&q=lovelace"},
			{"sort-name", "sort=name"},
			{"sort-sign-in-newest", "sort=sign_in&dir=desc"},
			{"sort-created-deactivated", "sort=created&dir=desc&status=deactivated"},
			{"sort-name-search", "sort=name&q=lovelace"},
		} {
			q, _ := url.ParseQuery(tc.query)
			f := directory.MemberFilter{Search: q.Get("q"), Status: directory.Status(q.Get("status")), Source: directory.MembershipSource(q.Get("source")), NeverSignedIn: q.Get("never") == "1", Bounced: q.Get("bounced") == "1",
				Sort: directory.MemberSort(q.Get("sort")), Desc: q.Get("dir") == "desc"}
			// The listing alone, to tell it from the session check, count
			// and rendering around it.
			b.Run(tc.name+"/list", func(b *testing.B) {
				for b.Loop() {
					if _, err := svc.ListMembersBy(ctx, a.ID, f, q.Get("after"), 50); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(tc.name, func(b *testing.B) {
				for b.Loop() {
					req := httptest.NewRequest("GET", "/admin/big/users?"+tc.query, nil)
					req.AddCookie(&http.Cookie{Name: web.SessionCookie{}.Name(), Value: token})
					rec := httptest.NewRecorder()
					mux.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d\n%s", tc.query, rec.Code, rec.Body)
					}
				}
			})
		}
	})
}
