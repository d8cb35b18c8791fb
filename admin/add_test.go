package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestAddUserNotice: after Add user, the notice says what became of the
// password as the directory did it, not what the form asked: set and to
// be changed at the first sign-in (and for how long it works), not used
// for someone who already had a sign-in (rule 4), none for single sign-on
// (and that no connection serves them yet), or an invitation on its way.
func TestAddUserNotice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a := s.account(t, "acme")
		beta := s.account(t, "beta")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		s.add(t, beta, "bea@beta.example", directory.RoleMember)
		if _, err := s.svc.SetPasswordPolicy(ctx, a.ID, operator, directory.PasswordPolicy{MinLength: 12, InitialPasswordDays: 5}); err != nil {
			t.Fatal(err)
		}
		p := s.signIn(t, owner, a)
		for _, tc := range []struct {
			name string
			form url.Values
			done string
			want []string
		}{
			{"a new person with a password",
				url.Values{"email": {"nia@acme.example"}, "first_name": {"Nia"}, "last_name": {"Ng"}, "how": {"password"}, "password": {"initial password given"}},
				"added-password", []string{"nia@acme.example is added with the initial password you typed", "admit emails them nothing", "must change it at their first sign-in", "5 days"}},
			{"someone of another account, with a password typed",
				url.Values{"email": {"bea@beta.example"}, "first_name": {"Bea"}, "last_name": {"B"}, "how": {"password"}, "password": {"initial password given"}},
				"added-joined-password-unused", []string{"bea@beta.example already had a sign-in to admit", "the password you typed was not used"}},
			{"a new person for single sign-on, no connection",
				url.Values{"email": {"sam@acme.example"}, "first_name": {"Sam"}, "last_name": {"Ode"}, "how": {"sso"}},
				"added-sso", []string{"sam@acme.example is added without a password", "no ready single sign-on connection of this account serves their address yet"}},
			{"an invitation",
				url.Values{"email": {"ivy@acme.example"}, "first_name": {"Ivy"}, "last_name": {"Ro"}, "how": {"invite"}},
				"invited", []string{"An invitation email is on its way to ivy@acme.example", "works until"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p.t = t
				p.get("/admin/acme/users/new")
				tc.form.Set("role", "member")
				code, path := p.post("/admin/acme/users/new", tc.form)
				if code != 200 || !strings.HasSuffix(path, "?done="+tc.done) {
					t.Fatalf("%d at %s; want done=%s\n%s", code, path, tc.done, p.last)
				}
				p.sees(append(tc.want, `id="done-`+tc.done+`"`)...)
				if strings.Contains(p.last, "The person has been added.") {
					t.Error("the bare notice is still there")
				}
			})
		}
		p.t = t
		// The person's password is as the notice said.
		nia, _ := s.svc.Member(ctx, a.ID, "nia@acme.example")
		bea, _ := s.svc.Member(ctx, a.ID, "bea@beta.example")
		if !nia.User.PasswordMustChange || bea.User.HasPassword() {
			t.Errorf("Nia must change hers: %v; Bea has none set by an admin: %v", nia.User.PasswordMustChange, bea.User.HasPassword())
		}
	})
}

// TestUsersPageGettingStarted: an account where no one but the admin is
// yet shows the four ways people arrive, each linked to its page; once
// someone else is there, or when a search finds no one, it does not.
func TestUsersPageGettingStarted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		p := s.signIn(t, owner, a)
		if code, _ := p.get("/admin/acme/users"); code != 200 {
			t.Fatalf("users: %d", code)
		}
		p.sees(`id="getting-started"`, "No one here yet but you",
			`href="/admin/acme/invite" id="way-invite"`, `href="/admin/acme/users/new" id="way-add"`,
			`href="/admin/acme/imports" id="way-import"`, `href="/admin/acme/sso" id="way-sso"`, `href="/admin/acme/scim" id="way-scim"`)
		if strings.Contains(p.last, `role="search"`) || strings.Contains(p.last, "Resend the invitation to everyone") {
			t.Error("an account of one shows the search and the resend-to-everyone link, which have no one to act on")
		}
		// Each link leads to a page of the console (the import pages are
		// package bulk's, mounted beside it by cmd/admit).
		for _, path := range []string{"/admin/acme/invite", "/admin/acme/users/new", "/admin/acme/sso", "/admin/acme/scim"} {
			if code, _ := p.get(path); code != 200 {
				t.Errorf("%s: %d", path, code)
			}
		}
		if p.get("/admin/acme/users?q=zz"); strings.Contains(p.last, `id="getting-started"`) {
			t.Error("a search that finds no one shows the getting-started guide")
		}
		s.add(t, a, "nia@acme.example", directory.RoleMember)
		if p.get("/admin/acme/users"); strings.Contains(p.last, `id="getting-started"`) {
			t.Error("the guide shows with someone else in the account")
		}
	})
}

// TestAddUserShowsPasswordRules: the Add user form shows the account's
// password rules beside the initial password, said of the person added,
// and how long the password works; also when it comes back refused.
func TestAddUserShowsPasswordRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a := s.account(t, "acme")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		if _, err := s.svc.SetPasswordPolicy(ctx, a.ID, operator, directory.PasswordPolicy{MinLength: 14, RequireDigit: true, InitialPasswordDays: 3}); err != nil {
			t.Fatal(err)
		}
		p := s.signIn(t, owner, a)
		want := []string{`aria-describedby="password-rules password-days"`, `data-min-length="14"`, `data-require-digit="true"`,
			`<ul id="password-rules"`, "<li>at least 14 characters</li>", "<li>at least one digit</li>", "<li>not containing their email address</li>",
			"It works for 3 days", `<script src="/static/password.js"></script>`}
		if code, _ := p.get("/admin/acme/users/new"); code != 200 {
			t.Fatalf("add form: %d", code)
		}
		p.sees(want...)
		if code, _ := p.post("/admin/acme/users/new", url.Values{"email": {"nia@acme.example"}, "first_name": {"Nia"}, "last_name": {"Ng"}, "role": {"member"}, "how": {"password"}, "password": {"too short"}}); code != 400 {
			t.Fatalf("a short password: %d; want 400", code)
		}
		p.sees(append(want, "password: use at least 14 characters")...)
	})
}

// TestImportInNavigation: the console's navigation offers Import (bulk
// upload, package bulk's pages) beside Add user and Invite on every page
// of the console, as it offers those.
func TestImportInNavigation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		p := s.signIn(t, s.add(t, a, "olive@acme.example", directory.RoleOwner), a)
		pat := s.add(t, a, "pat@acme.example", directory.RoleMember)
		for _, path := range []string{"/admin/acme/users", "/admin/acme/users/" + pat.Membership.ID, "/admin/acme/users/new", "/admin/acme/audit", "/admin/acme/sso"} {
			if code, _ := p.get(path); code != 200 {
				t.Fatalf("%s: %d", path, code)
			}
			nav, _, _ := strings.Cut(p.last[strings.Index(p.last, `<nav class="console"`)+1:], "</nav>")
			p.sees(`<nav class="console"`)
			if !strings.Contains(nav, `<a href="/admin/acme/invite">Invite</a>
<a href="/admin/acme/imports">Import</a>`) {
				t.Errorf("%s: the navigation has no Import after Invite:\n%s", path, nav)
			}
		}
	})
}

// TestAddUserPasswordOnlyWhenUsed: Add user shows the initial password
// under its choice (add-user.js hides it for the others), and a password
// sent with an invitation or single sign-on, which use none, is refused
// with why, not dropped: nobody is added, nothing is mailed, and the form
// comes back with what was typed but the password.
func TestAddUserPasswordOnlyWhenUsed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a := s.account(t, "acme")
		p := s.signIn(t, s.add(t, a, "olive@acme.example", directory.RoleOwner), a)
		p.get("/admin/acme/users/new")
		p.sees(`aria-controls="password-fields"`, `<div id="password-fields" class="choice-details">`, `<script src="/static/add-user.js"></script>`)
		for _, tc := range []struct {
			how, email, says string
		}{
			{"invite", "ivy@acme.example", "but an invitation uses none"},
			{"sso", "sam@acme.example", "but with single sign-on they sign in with none"},
		} {
			t.Run(tc.how, func(t *testing.T) {
				p.get("/admin/acme/users/new")
				code, _ := p.post("/admin/acme/users/new", url.Values{"email": {tc.email}, "first_name": {"Ivy"}, "last_name": {"Q"}, "role": {"member"},
					"how": {tc.how}, "password": {"a long first password 42"}})
				if code != http.StatusBadRequest {
					t.Errorf("%d; want 400", code)
				}
				p.sees(tc.says, `Clear the password, or choose &#34;Set an initial password&#34;.`, `value="`+tc.email+`"`, `id="how-`+tc.how+`" checked`)
				if strings.Contains(p.last, "a long first password 42") {
					t.Error("the form shows the password again")
				}
				if _, err := s.svc.Member(ctx, a.ID, tc.email); directory.KindOf(err) != directory.NotFound {
					t.Errorf("%s was added (%v)", tc.email, err)
				}
			})
		}
		if invs, err := s.svc.Invitations(ctx, a.ID); err != nil || len(invs) != 0 {
			t.Errorf("invitations: %+v, %v; want none", invs, err)
		}
		// Without the password, the same form goes through.
		p.get("/admin/acme/users/new")
		if code, path := p.post("/admin/acme/users/new", url.Values{"email": {"ivy@acme.example"}, "role": {"member"}, "how": {"invite"}, "password": {""}}); code != 200 || !strings.Contains(path, "done=invited") {
			t.Errorf("an invitation without a password: %d at %s", code, path)
		}
	})
}
