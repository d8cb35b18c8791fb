package sso_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

// signedIn gives the browser a session of a new member of acme with role.
func (b *browser) signedIn(email string, role directory.Role) directory.User {
	b.w.t.Helper()
	ctx := context.Background()
	added, err := b.w.svc.AddUser(ctx, b.w.acme.ID, operator, directory.NewUser{Email: email, FirstName: "Ad", LastName: "Min", Role: role, Password: "a long enough password 1"})
	if err != nil {
		b.w.t.Fatal(err)
	}
	token, _, err := b.w.svc.StartSession(ctx, added.Member.User.ID, b.w.acme.ID, directory.ByPassword)
	if err != nil {
		b.w.t.Fatal(err)
	}
	u, _ := url.Parse(b.w.sp.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie{}.Name(), Value: token, Path: "/"}})
	return added.Member.User
}

// testResponse starts a Test sign-in at the connection and signs in at the
// IdP as user; it returns the ACS URL and the form the IdP would post.
func (b *browser) testResponse(connection, user, returnTo string) (string, url.Values) {
	b.w.t.Helper()
	start := b.get(b.w.sp.URL + "/sso/acme/test?connection=" + connection + "&return_to=" + url.QueryEscape(returnTo))
	if start.status != http.StatusFound || !strings.HasPrefix(start.location, b.w.idp.URL+"/sso?") {
		b.w.t.Fatalf("test start: %d %s %s", start.status, start.location, start.body)
	}
	login := b.get(start.location)
	if acs, resp := fields(login.body); resp.Get("SAMLResponse") != "" {
		return acs, resp // the IdP remembers the browser's sign-in there
	}
	_, form := fields(login.body)
	form.Set("user", user)
	form.Set("password", "pw-"+user)
	answer := b.post(b.w.idp.URL+"/sso", form)
	acs, resp := fields(answer.body)
	if resp.Get("SAMLResponse") == "" {
		b.w.t.Fatalf("IdP gave no SAMLResponse: %d %s", answer.status, answer.body)
	}
	return acs, resp
}

// TestTestSignIn: an admin's Test sign-in runs a real login, shows what
// arrived and what the directory would do, and signs nobody in: not the
// admin's browser, and not an attacker who takes the answer elsewhere.
func TestTestSignIn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w := newWorld(t, s)
		w.addUser("bob", "bob@example.com", "Bob", "Jones", "Engineering")
		admin := w.browser()
		admin.signedIn("admin@example.com", directory.RoleOwner)
		before := admin.me()
		const result = "/admin/acme/sso/connections/okta/test"

		acs, form := admin.testResponse("okta", "bob", result)
		p := admin.post(acs, form)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, result+"?ref=") {
			t.Fatalf("test answer: %d %s %.300s", p.status, p.location, p.body)
		}
		if got := admin.me(); got != before {
			t.Errorf("the test changed the admin's session: %q, was %q", got, before)
		}
		if _, err := w.svc.Member(ctx, w.acme.ID, "bob@example.com"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("the test made bob a member: %v", err)
		}
		at := w.lastAttempt(w.okta)
		ref, _ := url.Parse(p.location)
		if at.Outcome != sso.OutcomeTested || at.Reason != "created user" || at.Email != "bob@example.com" || at.Reference != ref.Query().Get("ref") ||
			!strings.Contains(strings.ReplaceAll(string(at.Detail), " ", ""), `"test":true`) || !strings.Contains(string(at.Detail), "Engineering") {
			t.Errorf("login log: %+v %s", at, at.Detail)
		}

		// The answer of a test, posted again by anyone, signs nobody in:
		// it answers a test pending in the admin's browser only, and its
		// assertion is used up.
		for name, b := range map[string]*browser{"no pending sign-in": w.browser(), "a real sign-in of its own pending": w.browser()} {
			if name == "a real sign-in of its own pending" {
				b.samlResponse("okta", "alice", "/me") // leaves its own pending cookie
			}
			if p := b.post(acs, form); p.status == http.StatusSeeOther || b.me() != "" {
				t.Errorf("%s: the test's answer posted again gave %d %s, session %q", name, p.status, p.location, b.me())
			}
		}
		if _, err := w.svc.Member(ctx, w.acme.ID, "bob@example.com"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("a replayed test made bob a member: %v", err)
		}

		// A refusal is shown to the admin, in plain words.
		if _, err := w.svc.UpdateConnection(ctx, w.acme.ID, operator, w.okta.ID, directory.ConnectionChange{JITMode: ptr(directory.JITOff)}); err != nil {
			t.Fatal(err)
		}
		acs, form = admin.testResponse("okta", "bob", result)
		if p := admin.post(acs, form); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, result+"?ref=") {
			t.Fatalf("refused test: %d %s", p.status, p.location)
		}
		if at := w.lastAttempt(w.okta); at.Outcome != sso.OutcomeTestRefused || !strings.Contains(at.Reason, "not a member") {
			t.Errorf("refused test in the login log: %+v", at)
		}

		// Only an owner or admin of the account starts a test.
		if p := w.browser().get(w.sp.URL + "/sso/acme/test?connection=okta"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login?") {
			t.Errorf("signed out: %d %s", p.status, p.location)
		}
		member := w.browser()
		member.signedIn("member@example.com", directory.RoleMember)
		if p := member.get(w.sp.URL + "/sso/acme/test?connection=okta"); p.status != http.StatusForbidden {
			t.Errorf("a member starting a test: %d %s", p.status, p.location)
		}
		if p := admin.get(w.sp.URL + "/sso/acme/test?connection=nope"); p.status != http.StatusNotFound {
			t.Errorf("an unknown connection: %d", p.status)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestTestSignInOIDC: the same through an OpenID provider's callback.
func TestTestSignInOIDC(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w := newWorld(t, s)
		p := w.newProvider()
		zitadel := w.connection("zitadel")
		admin := w.browser()
		admin.signedIn("admin@example.com", directory.RoleOwner)
		before := admin.me()
		const result = "/admin/acme/sso/connections/zitadel/test"
		start := admin.get(w.sp.URL + "/sso/acme/test?connection=zitadel&return_to=" + url.QueryEscape(result))
		if start.status != http.StatusFound || !strings.HasPrefix(start.location, p.Issuer+"/authorize?") {
			t.Fatalf("test start: %d %s %s", start.status, start.location, start.body)
		}
		callback := admin.atProvider(p, start.location, "bob")
		pg := admin.get(callback)
		if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, result+"?ref=") {
			t.Fatalf("test answer: %d %s %.300s", pg.status, pg.location, pg.body)
		}
		if got := admin.me(); got != before {
			t.Errorf("the test changed the admin's session: %q", got)
		}
		if _, err := w.svc.Member(ctx, w.acme.ID, "bob@example.com"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("the test made bob a member: %v", err)
		}
		if at := w.lastAttempt(zitadel); at.Outcome != sso.OutcomeTested || at.Reason != "created user" {
			t.Errorf("login log: %+v", at)
		}
		// The callback URL again, in another browser: no pending sign-in.
		other := w.browser()
		if pg := other.get(callback); pg.status == http.StatusSeeOther || other.me() != "" {
			t.Errorf("the test's callback in another browser: %d %s", pg.status, pg.location)
		}
	})
}
