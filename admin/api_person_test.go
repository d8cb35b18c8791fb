package admin_test

import (
	"context"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestAPIChangesAPerson: the home account's admin (an account that
// verified the person's domain) changes their name and address with the
// member PATCH, within its verified domains, and the address only of a
// person who belongs to no other account; another account's admin may
// not; a change that fails in part changes nothing.
func TestAPIChangesAPerson(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		ctx := context.Background()
		ann, err := site.svc.AddUser(ctx, site.alpha.ID, operator, directory.NewUser{Email: "ann@alpha.test", FirstName: "Ann", LastName: "Lee"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := site.svc.AddUser(ctx, site.alpha.ID, operator, directory.NewUser{Email: "bob@alpha.test", FirstName: "Bob", LastName: "Ng"}); err != nil {
			t.Fatal(err)
		}
		annURL := "/api/v1/accounts/alpha/members/" + ann.Member.Membership.ID
		get := func() map[string]any { return site.do(t, "GET", annURL, site.keyA, nil).json(t) }

		r := site.do(t, "PATCH", annURL, site.keyA, map[string]any{"first_name": "Ann", "last_name": "King", "email": "ann.king@alpha.test"})
		if got := r.json(t); r.status != 200 || got["email"] != "ann.king@alpha.test" || got["last_name"] != "King" {
			t.Fatalf("rename: %d %s", r.status, r.body)
		}

		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
			code   string
		}{
			{"an address outside the verified domains", map[string]any{"email": "ann@gmail.test"}, 400, "invalid"},
			{"another person's address", map[string]any{"email": "bob@alpha.test"}, 409, "conflict"},
			{"an empty last name", map[string]any{"last_name": " "}, 400, "invalid"},
			{"a name with a control character", map[string]any{"first_name": "A\u0007"}, 400, "invalid"},
			{"a good name with a role that does not exist", map[string]any{"first_name": "Anna", "role": "king"}, 400, "invalid"},
			{"a good role with a bad address", map[string]any{"role": "admin", "email": "ann@beta.test"}, 400, "invalid"},
			{"nothing", map[string]any{}, 400, "invalid"},
		} {
			before := get()
			wantProblem(t, tc.name, site.do(t, "PATCH", annURL, site.keyA, tc.body), tc.status, tc.code)
			after := get()
			for _, k := range []string{"email", "first_name", "last_name", "role"} {
				if after[k] != before[k] {
					t.Errorf("%s: %s went from %v to %v; want nothing changed", tc.name, k, before[k], after[k])
				}
			}
		}

		// Ann becomes a guest of beta too. Beta verified no domain of
		// Ann's: it holds her membership only. Alpha's admins still name
		// her, and no longer change her address (rule 4: the reset link
		// would go where they chose, with every account of hers).
		inBeta, err := site.svc.AddUser(ctx, site.beta.ID, operator, directory.NewUser{Email: "ann.king@alpha.test", FirstName: "X", LastName: "Y"})
		if err != nil {
			t.Fatal(err)
		}
		if r := site.do(t, "PATCH", annURL, site.keyA, map[string]any{"last_name": "Lee-King"}); r.status != 200 {
			t.Errorf("alpha renames the guest of beta: %d %s", r.status, r.body)
		}
		if m, err := site.svc.Member(ctx, site.beta.ID, "ann.king@alpha.test"); err != nil || m.User.LastName != "Lee-King" {
			t.Errorf("beta sees %+v, %v; want Ann Lee-King", m.User, err)
		}
		wantProblem(t, "a new address for a person of another account", site.do(t, "PATCH", annURL, site.keyA, map[string]any{"email": "ann.k@alpha.test"}), 403, "forbidden")
		betaURL := "/api/v1/accounts/beta/members/" + inBeta.Member.Membership.ID
		wantProblem(t, "another account's admin", site.do(t, "PATCH", betaURL, site.keyB, map[string]any{"last_name": "Nobody"}), 403, "forbidden")
		wantProblem(t, "another account's admin", site.do(t, "PATCH", betaURL, site.keyB, map[string]any{"email": "ann@beta.test"}), 403, "forbidden")
		// Alpha's membership id under beta's path, with beta's key, is no
		// member of beta's; alpha's path with beta's key no account of its.
		wantProblem(t, "alpha's member under beta", site.do(t, "PATCH", "/api/v1/accounts/beta/members/"+ann.Member.Membership.ID, site.keyB, map[string]any{"last_name": "Nobody"}), 404, "not_found")
		wantProblem(t, "alpha's path with beta's key", site.do(t, "PATCH", annURL, site.keyB, map[string]any{"last_name": "Nobody"}), 404, "not_found")
		// Nulls change nothing, and are not a change.
		wantProblem(t, "only nulls", site.do(t, "PATCH", annURL, site.keyA, map[string]any{"email": nil, "role": nil}), 400, "invalid")
		if got := get(); got["last_name"] != "Lee-King" || got["email"] != "ann.king@alpha.test" {
			t.Errorf("after beta's attempts: %v", got)
		}
	})
}

// TestAPISignOut: an account's key ends a member's sessions there, and
// only there; the membership stays active. An owner answers to owners,
// another account's person is not found.
func TestAPISignOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		ctx := context.Background()
		add := func(a directory.Account, email string, role directory.Role) directory.Member {
			t.Helper()
			added, err := site.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: email, FirstName: "P", LastName: "Q", Role: role, Password: "a password the operator chose"})
			if err != nil {
				t.Fatal(err)
			}
			return added.Member
		}
		pat := add(site.alpha, "pat@alpha.test", directory.RoleMember)
		olive := add(site.alpha, "olive@alpha.test", directory.RoleOwner)
		bea := add(site.beta, "bea@beta.test", directory.RoleMember)
		session := func(m directory.Member) string {
			t.Helper()
			token, _, err := site.svc.StartSession(ctx, m.User.ID, m.Membership.AccountID, directory.ByPassword)
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		patToken, oliveToken, beaToken := session(pat), session(olive), session(bea)
		base := "/api/v1/accounts/alpha/members/"
		r := site.do(t, "POST", base+pat.Membership.ID+"/sign-out", site.keyA, nil)
		if r.status != 200 || r.json(t)["status"] != "active" || r.json(t)["email"] != "pat@alpha.test" {
			t.Errorf("sign-out: %d %s; want 200 and pat, still active", r.status, r.body)
		}
		if _, err := site.svc.Authenticate(ctx, patToken); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("pat's session afterwards: %v; want Unauthenticated", err)
		}
		wantProblem(t, "beta's person through alpha", site.do(t, "POST", base+bea.Membership.ID+"/sign-out", site.keyA, nil), 404, "not_found")
		wantProblem(t, "beta's person by user id", site.do(t, "POST", base+bea.User.ID+"/sign-out", site.keyA, nil), 404, "not_found")
		wantProblem(t, "an owner, by an admin's key", site.do(t, "POST", base+olive.Membership.ID+"/sign-out", site.keyA, nil), 403, "forbidden")
		wantProblem(t, "no such member", site.do(t, "POST", base+"nope/sign-out", site.keyA, nil), 404, "not_found")
		for name, token := range map[string]string{"the owner's": oliveToken, "beta's person's": beaToken} {
			if _, err := site.svc.Authenticate(ctx, token); err != nil {
				t.Errorf("%s session afterwards: %v; want alive", name, err)
			}
		}
	})
}
