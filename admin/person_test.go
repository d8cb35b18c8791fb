package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestPersonNameAndAddress: on a person's page, the admin of their home
// account (the one that verified their address's domain) changes their
// name and address; a refusal keeps what was typed and says why; another
// account that holds their membership is told why it cannot.
func TestPersonNameAndAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		alpha, err := s.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "alpha", Name: "Alpha", Domains: []string{"alpha.test"}})
		if err != nil {
			t.Fatal(err)
		}
		beta := s.account(t, "beta")
		owner := s.add(t, alpha, "olive@alpha.test", directory.RoleOwner)
		s.add(t, alpha, "bob@alpha.test", directory.RoleMember)
		ann := s.add(t, alpha, "ann@alpha.test", directory.RoleMember)
		betaOwner := s.add(t, beta, "bea@beta.test", directory.RoleOwner)

		p := s.signIn(t, owner, alpha)
		page := "/admin/alpha/users/" + ann.Membership.ID
		if code, _ := p.get(page); code != 200 {
			t.Fatalf("Ann's page: %d", code)
		}
		p.sees(`action="/admin/alpha/users/`+ann.Membership.ID+`/person"`, `name="first_name" type="text" autocomplete="off" value="Pat"`, "Only an address in alpha.test")

		code, path := p.post(page+"/person", url.Values{"first_name": {"Ann"}, "last_name": {"King"}, "email": {"ann.king@alpha.test"}})
		if code != 200 || !strings.Contains(path, "done=name-email") {
			t.Fatalf("change name and address: %d at %s\n%s", code, path, p.last)
		}
		p.sees("Their name is now Ann King and their email address ann.king@alpha.test", `<dd id="email">ann.king@alpha.test</dd>`, "user.updated")
		if m, err := s.svc.Member(ctx, alpha.ID, "ann.king@alpha.test"); err != nil || m.User.LastName != "King" {
			t.Errorf("alpha has %+v, %v; want Ann King at her new address", m.User, err)
		}
		code, path = p.post(page+"/person", url.Values{"first_name": {"Anna"}, "last_name": {"King"}, "email": {"ann.king@alpha.test"}})
		if code != 200 || !strings.Contains(path, "done=name") {
			t.Fatalf("change the name: %d at %s", code, path)
		}
		p.sees("Their name is now Anna King, in every account they belong to.")
		p.post(page+"/person", url.Values{"first_name": {"Anna"}, "last_name": {"King"}, "email": {"ann.king@alpha.test"}})
		p.sees("Nothing changed")

		for _, tc := range []struct {
			name  string
			form  url.Values
			code  int
			words string
		}{
			{"an address outside the verified domains", url.Values{"first_name": {"Anna"}, "last_name": {"Typed"}, "email": {"anna@gmail.test"}}, http.StatusBadRequest, "is not in a domain Alpha verified"},
			{"another person's address", url.Values{"first_name": {"Anna"}, "last_name": {"Typed"}, "email": {"bob@alpha.test"}}, http.StatusConflict, "that address is another person&#39;s"},
			{"an empty last name", url.Values{"first_name": {"Anna"}, "last_name": {" "}, "email": {"typed@alpha.test"}}, http.StatusBadRequest, "last name"},
		} {
			p.get(page)
			if code, _ := p.post(page+"/person", tc.form); code != tc.code {
				t.Errorf("%s: %d; want %d", tc.name, code, tc.code)
			}
			// The console's page, with the reason and what was typed.
			p.sees(tc.words, `<nav class="console"`, `value="`+tc.form.Get("email")+`"`, `value="`+tc.form.Get("last_name")+`"`)
			if m, err := s.svc.Member(ctx, alpha.ID, "ann.king@alpha.test"); err != nil || m.User.FirstName != "Anna" || m.User.LastName != "King" {
				t.Errorf("%s: Ann is now %+v, %v; want unchanged", tc.name, m.User, err)
			}
		}

		// Without the form's CSRF token, nothing changes.
		if code, _ := p.post(page+"/person", url.Values{"csrf_token": {"forged"}, "first_name": {"Eve"}, "last_name": {"E"}, "email": {"ann.king@alpha.test"}}); code != http.StatusForbidden {
			t.Errorf("a forged form: %d; want 403", code)
		}

		// Once Ann belongs to beta too, alpha's admins no longer change her
		// address (whoever reads the new one could reset her password, and
		// so beta's too); her identity provider does. Her name they may.
		annInBeta := s.add(t, beta, "ann.king@alpha.test", directory.RoleMember)
		p.get(page)
		p.sees(`id="email-elsewhere"`, `value="ann.king@alpha.test" readonly`)
		if code, _ := p.post(page+"/person", url.Values{"first_name": {"Anna"}, "last_name": {"King"}, "email": {"anna@alpha.test"}}); code != http.StatusForbidden {
			t.Errorf("changing the address of a person of beta too: %d; want 403", code)
		}
		p.sees("also belongs to another account")

		// Beta holds Ann's membership only.
		b := s.signIn(t, betaOwner, beta)
		betaPage := "/admin/beta/users/" + annInBeta.Membership.ID
		b.get(betaPage)
		b.sees(`id="not-home"`, "the account that verified the domain of ann.king@alpha.test")
		if strings.Contains(b.last, "/person\"") {
			t.Error("beta's page offers to change Ann's name and address")
		}
		if code, _ := b.post(betaPage+"/person", url.Values{"first_name": {"X"}, "last_name": {"Y"}, "email": {"ann.king@alpha.test"}}); code != http.StatusForbidden {
			t.Errorf("beta changing Ann: %d; want 403", code)
		}
		b.sees("Only the account that verified alpha.test")
		// Alpha's member under beta's console is no member of beta's.
		b.get(betaPage)
		if code, _ := b.post("/admin/beta/users/"+ann.Membership.ID+"/person", url.Values{"first_name": {"X"}, "last_name": {"Y"}, "email": {"x@alpha.test"}}); code != http.StatusNotFound {
			t.Errorf("beta naming alpha's membership: %d; want 404", code)
		}
		// An admin of alpha does not change an owner; a stranger is sent
		// to sign in.
		adm := s.signIn(t, s.add(t, alpha, "ada@alpha.test", directory.RoleAdmin), alpha)
		ownerPage := "/admin/alpha/users/" + owner.Membership.ID
		adm.get(ownerPage)
		if code, _ := adm.post(ownerPage+"/person", url.Values{"first_name": {"Mallory"}, "last_name": {"M"}, "email": {"olive@alpha.test"}}); code != http.StatusForbidden {
			t.Errorf("an admin renaming an owner: %d; want 403", code)
		}
		stranger := s.anonymous(t)
		stranger.get("/login")
		if code, path := stranger.post(page+"/person", url.Values{"first_name": {"X"}, "last_name": {"Y"}, "email": {"x@alpha.test"}}); code == http.StatusOK && !strings.HasPrefix(path, "/login") {
			t.Errorf("a stranger's change: %d at %s; want a refusal or the sign-in page", code, path)
		}
		for _, email := range []string{"ann.king@alpha.test", "olive@alpha.test"} {
			if m, err := s.svc.Member(ctx, alpha.ID, email); err != nil || m.User.FirstName == "X" || m.User.FirstName == "Mallory" {
				t.Errorf("after the refused attempts, %s is %+v, %v", email, m.User, err)
			}
		}
	})
}

// TestInitialPasswordWords: the admin setting a person's initial password
// is told of *their* address in it, not of "your" address.
func TestInitialPasswordWords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		p := s.signIn(t, s.add(t, a, "olive@acme.example", directory.RoleOwner), a)
		p.get("/admin/acme/users/new")
		code, _ := p.post("/admin/acme/users/new", url.Values{"email": {"nia.ng@acme.example"}, "first_name": {"Nia"}, "last_name": {"Ng"}, "role": {"member"}, "how": {"password"}, "password": {"nia.ng-initial-2024"}})
		if code != http.StatusBadRequest {
			t.Errorf("a password with her address: %d; want 400", code)
		}
		p.sees("do not use their email address in the password")
		if strings.Contains(p.last, "your email address") {
			t.Error(`the admin is told of "your email address"`)
		}
	})
}

// TestEndSessionsFromTheConsole: the person page offers "End sessions"
// behind a confirmation; posted with the page's CSRF token it ends the
// person's sessions in this account, not in their other one, audited; a
// forged post does nothing; another account's admin finds nobody.
func TestEndSessionsFromTheConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		ctx := context.Background()
		acme, globex := s.account(t, "acme"), s.account(t, "globex")
		adm := s.add(t, acme, "ada@acme.example", directory.RoleAdmin)
		pat := s.add(t, acme, "pat@acme.example", directory.RoleMember)
		if _, err := s.svc.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "pat@acme.example", FirstName: "Pat", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		patThere, err := s.svc.Member(ctx, globex.ID, "pat@acme.example")
		if err != nil {
			t.Fatal(err)
		}
		patHere, patElsewhere := s.signIn(t, pat, acme), s.signIn(t, patThere, globex)
		p := s.signIn(t, adm, acme)
		page := "/admin/acme/users/" + pat.Membership.ID
		p.get(page)
		p.sees(`<details class="confirm"><summary>End sessions…</summary>`, `action="/admin/acme/users/`+pat.Membership.ID+`/end-sessions"`)
		if code, _ := p.post(page+"/end-sessions", url.Values{"csrf_token": {"forged"}}); code != http.StatusForbidden {
			t.Errorf("a forged post: %d; want 403", code)
		}
		if _, path := patHere.get("/me"); path != "/me" {
			t.Fatalf("after a forged post pat's acme browser landed on %s; want still signed in", path)
		}
		p.get(page)
		if code, path := p.post(page+"/end-sessions", url.Values{}); code != 200 || path != page+"?done=sessions-ended" {
			t.Errorf("end sessions: %d at %s", code, path)
		}
		p.sees("Their sessions here have ended")
		if _, path := patHere.get("/me"); !strings.HasPrefix(path, "/login") {
			t.Errorf("pat's acme browser afterwards landed on %s; want /login", path)
		}
		if _, path := patElsewhere.get("/me"); path != "/me" {
			t.Errorf("pat's globex browser afterwards landed on %s; want still signed in", path)
		}
		if ev := s.events(t, acme, "membership.sessions_ended"); len(ev) != 1 || ev[0].Actor.Name != "ada@acme.example" {
			t.Errorf("audit: %+v; want one, by ada", ev)
		}
		// globex's person through acme's console: not found.
		p.get(page)
		if code, _ := p.post("/admin/acme/users/"+patThere.Membership.ID+"/end-sessions", url.Values{}); code != http.StatusNotFound {
			t.Errorf("globex's membership through acme's console: %d; want 404", code)
		}
	})
}

// TestInvitedPersonsActions: the page of a person who has not accepted
// their invitation offers what applies to an invitation (resend it,
// revoke it) and none of what applies to a sign-in they do not have
// (deactivate, a reset link, end sessions); revoking takes them out and
// ends the link. Revoking refuses, changing nothing, once they have
// accepted (a page opened before they did), and an active person's page
// still offers deactivate and remove.
func TestInvitedPersonsActions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a := s.account(t, "acme")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		pat := s.add(t, a, "pat@acme.example", directory.RoleMember)
		p := s.signIn(t, owner, a)
		for _, e := range []string{"ivy@acme.example", "jay@acme.example"} {
			if _, err := s.svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: e}); err != nil {
				t.Fatal(err)
			}
		}
		ivy, err := s.svc.Member(ctx, a.ID, "ivy@acme.example")
		if err != nil {
			t.Fatal(err)
		}
		page := "/admin/acme/users/" + ivy.Membership.ID
		p.get(page)
		p.sees(`id="resend"`, `action="`+page+`/revoke"`, "Revoke the invitation…", `id="invited-note"`)
		for _, absent := range []string{`id="deactivate"`, `id="reset"`, `id="end-sessions"`, `id="remove"`, "/deactivate\"", "/remove\""} {
			if strings.Contains(p.last, absent) {
				t.Errorf("an invited person's page has %s", absent)
			}
		}

		// Revoked: she is gone, her invitation with her.
		if code, path := p.post(page+"/revoke", url.Values{}); code != 200 || !strings.HasPrefix(path, "/admin/acme/users?done=revoked") {
			t.Fatalf("revoke: %d at %s\n%s", code, path, p.last)
		}
		p.sees("The invitation to ivy@acme.example has been revoked")
		if _, err := s.svc.Member(ctx, a.ID, "ivy@acme.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("after the revocation Ivy is still a member (%v)", err)
		}
		invs, err := s.svc.Invitations(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			if inv.Email == "ivy@acme.example" && inv.Open() {
				t.Errorf("Ivy's invitation is still open: %+v", inv)
			}
		}

		// Jay's page is opened, then Jay accepts: the revocation is
		// refused and Jay stays.
		jay, err := s.svc.Member(ctx, a.ID, "jay@acme.example")
		if err != nil {
			t.Fatal(err)
		}
		jayPage := "/admin/acme/users/" + jay.Membership.ID
		p.get(jayPage)
		// (What accepting does to the membership.)
		if _, err := st.ActivateMembership(ctx, a.ID, jay.User.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if code, _ := p.post(jayPage+"/revoke", url.Values{}); code != http.StatusConflict {
			t.Errorf("revoking the invitation of a person who accepted it: %d; want 409", code)
		}
		p.sees("no longer only invited")
		if m, err := s.svc.Member(ctx, a.ID, "jay@acme.example"); err != nil || m.Membership.Status != directory.StatusActive {
			t.Errorf("after the refused revocation Jay is %+v, %v; want an active member", m.Membership, err)
		}

		// An active person's page: deactivate, reset, end sessions, remove.
		p.get("/admin/acme/users/" + pat.Membership.ID)
		p.sees(`id="deactivate"`, `id="reset"`, `id="end-sessions"`, `id="remove"`)
		if strings.Contains(p.last, `id="revoke"`) || strings.Contains(p.last, `id="resend"`) {
			t.Error("an active person's page offers to resend or revoke an invitation")
		}
	})
}

// TestCorrectAddressWithoutNames: the address of a person invited by
// address alone is corrected without typing names the admin does not
// know (they choose theirs when they accept); a name part the person has
// still cannot be blanked.
func TestCorrectAddressWithoutNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, err := s.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Acme", Domains: []string{"acme.test"}})
		if err != nil {
			t.Fatal(err)
		}
		p := s.signIn(t, s.add(t, a, "olive@acme.test", directory.RoleOwner), a)
		s.add(t, a, "pat@acme.test", directory.RoleMember) // Pat Q
		for _, e := range []string{"jon@acme.test", "kim@acme.test"} {
			if _, err := s.svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: e}); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name        string
			email       string // whose page
			form        url.Values
			code        int
			done        string // the notice after a change
			first, last string // their name afterwards
			at          string // their address afterwards
		}{
			{"an invited person's address alone", "jon@acme.test",
				url.Values{"first_name": {""}, "last_name": {" "}, "email": {"jonathan@acme.test"}}, 200, "done=email", "", "", "jonathan@acme.test"},
			{"an invited person's address and first name", "kim@acme.test",
				url.Values{"first_name": {"Kim"}, "last_name": {""}, "email": {"kimberly@acme.test"}}, 200, "done=name-email", "Kim", "", "kimberly@acme.test"},
			{"a name taken away", "pat@acme.test",
				url.Values{"first_name": {""}, "last_name": {"Q"}, "email": {"patricia@acme.test"}}, http.StatusBadRequest, "", "Pat", "Q", "pat@acme.test"},
			{"a first name blanked once given", "kimberly@acme.test",
				url.Values{"first_name": {""}, "last_name": {""}, "email": {"kimberly@acme.test"}}, http.StatusBadRequest, "", "Kim", "", "kimberly@acme.test"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m, err := s.svc.Member(ctx, a.ID, tc.email)
				if err != nil {
					t.Fatal(err)
				}
				page := "/admin/acme/users/" + m.Membership.ID
				p.get(page)
				code, path := p.post(page+"/person", tc.form)
				if code != tc.code || (tc.done != "" && !strings.Contains(path, tc.done)) {
					t.Fatalf("%d at %s; want %d and %q\n%s", code, path, tc.code, tc.done, p.last)
				}
				if tc.code != 200 {
					p.sees("first name is required")
				}
				got, err := s.svc.Member(ctx, a.ID, tc.at)
				if err != nil || got.User.FirstName != tc.first || got.User.LastName != tc.last {
					t.Errorf("afterwards: %+v, %v; want %q %q at %s", got.User, err, tc.first, tc.last, tc.at)
				}
			})
		}

		// The form says which parts may stay blank.
		jon, err := s.svc.Member(ctx, a.ID, "jonathan@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		p.get("/admin/acme/users/" + jon.Membership.ID)
		p.sees(`<label for="first_name">First name (optional)</label>`, `value="" maxlength="100"></div>`)
		pat, err := s.svc.Member(ctx, a.ID, "pat@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		p.get("/admin/acme/users/" + pat.Membership.ID)
		p.sees(`<label for="first_name">First name</label>`, `value="Pat" maxlength="100" required>`)
	})
}
