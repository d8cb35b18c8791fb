package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// What the sign-in page's parts look like in its HTML.
const (
	emailField     = `<input id="email" name="email" type="email" autocomplete="username"`
	continueButton = `<button type="submit">Continue</button>`
	passwordField  = `<input id="password" name="password" type="password" autocomplete="current-password"`
	breakGlass     = `<details class="break-glass"`
)

// usernameField is the second step's field that carries the email to
// password managers.
func usernameField(email string) string {
	return `<input type="email" name="email" value="` + email + `" autocomplete="username" hidden>`
}

func TestEmailFirstSteps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		s.add(t, s.account(t, "acme"), "pat@acme.example", "initial password given")
		p := s.browser(t)
		if status, _ := p.get("/login"); status != http.StatusOK || !strings.Contains(p.last, emailField) || !strings.Contains(p.last, continueButton) || strings.Contains(p.last, passwordField) {
			t.Fatalf("the first step: %d, want the email alone:\n%s", status, p.last)
		}
		for _, tc := range []struct {
			name, email string
			status      int
			want, not   []string
		}{
			{"a known address without SSO", "pat@acme.example", 200,
				[]string{passwordField, usernameField("pat@acme.example"), `<strong id="signing-in-as">pat@acme.example</strong>`, `>Use another email</a>`, `href="/password/reset?email=pat%40acme.example"`},
				[]string{"Continue with", continueButton}},
			{"an unknown address without SSO", "nobody@nowhere.example", 200,
				[]string{passwordField, usernameField("nobody@nowhere.example")},
				[]string{"Continue with"}},
			{"SSO offered beside passwords", "kim@choice.example", 200,
				[]string{`<a class="button" href="/sso/choice-co/login">Continue with Choice Co</a>`, "Or sign in with your password", passwordField, usernameField("kim@choice.example")},
				[]string{breakGlass}},
			{"SSO required", "kim@sso.example", 200,
				[]string{`<a class="button" href="/sso/sso-co/login">Continue with SSO Co</a>`, `>Use another email</a>`},
				[]string{passwordField, "Forgot your password"}},
			{"SSO required, owners keep a password", "olga@glass.example", 200,
				[]string{`<a class="button" href="/sso/glass-co/login">Continue with Glass Co</a>`, breakGlass + `>`, "Account owner? Sign in with your password", passwordField},
				nil},
			{"no address", "  ", 400,
				[]string{emailField, continueButton, "Enter your email address, like name@example.com."},
				[]string{passwordField}},
			{"not an address", "pat.acme.example", 400,
				[]string{emailField + ` value="pat.acme.example"`, "Enter your email address"},
				[]string{passwordField}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p.get("/login")
				status, path := p.post("/login", url.Values{"email": {tc.email}})
				if status != tc.status || path != "/login" {
					t.Errorf("status %d at %s; want %d at /login", status, path, tc.status)
				}
				for _, w := range tc.want {
					if !strings.Contains(p.last, w) {
						t.Errorf("the page lacks %s", w)
					}
				}
				for _, n := range tc.not {
					if strings.Contains(p.last, n) {
						t.Errorf("the page has %s", n)
					}
				}
			})
		}
	})
}

// TestEmailFirstTellsNothing: the second step depends on the address's
// domain only. A known and an unknown address of a domain without SSO get
// the same page, byte for byte apart from the echoed email and the tokens.
func TestEmailFirstTellsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		s.add(t, s.account(t, "acme"), "pat@acme.example", "initial password given")
		p := s.browser(t)
		second := func(email string) (int, string) {
			p.get("/login")
			status, _ := p.post("/login", url.Values{"email": {email}, "return_to": {"/me?tab=1"}})
			return status, normalize(p.last, email)
		}
		knownStatus, known := second("pat@acme.example")
		for _, email := range []string{"nobody@acme.example", "nobody@nowhere.example"} {
			if status, page := second(email); status != knownStatus || page != known {
				t.Errorf("%s: %d, the page differs from a known address's (-known +this):\n%s", email, status, cmp.Diff(known, page))
			}
		}
		// The link that names an address (from the reset page or an
		// invitation) answers the same way.
		p.get("/login?email=pat%40acme.example")
		viaLink := normalize(p.last, "pat@acme.example")
		p.get("/login?email=nobody%40acme.example")
		if unknown := normalize(p.last, "nobody@acme.example"); viaLink != unknown {
			t.Errorf("the second step by link differs (-known +unknown):\n%s", cmp.Diff(viaLink, unknown))
		}
	})
}

func TestEmailFirstSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		s.add(t, a, "pat@acme.example", "initial password given")
		p := s.browser(t)
		p.get("/login?return_to=" + url.QueryEscape("/me?tab=1"))
		if !strings.Contains(p.last, `name="return_to" value="/me?tab=1"`) {
			t.Fatalf("the first step lost return_to:\n%s", p.last)
		}
		// Asking for the second step does not count as a failed sign-in:
		// five of them leave the address unthrottled.
		for range 6 {
			p.post("/login", url.Values{"email": {"pat@acme.example"}, "return_to": {"/me?tab=1"}})
		}
		if !strings.Contains(p.last, `name="return_to" value="/me?tab=1"`) || !strings.Contains(p.last, `href="/login?return_to=%2Fme%3Ftab%3D1"`) {
			t.Fatalf("the second step lost return_to:\n%s", p.last)
		}
		status, _ := p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {""}, "return_to": {"/me?tab=1"}})
		if status != http.StatusBadRequest || !strings.Contains(p.last, "Enter your password.") || !strings.Contains(p.last, passwordField) {
			t.Errorf("an empty password: %d; want 400 asking for it on the second step", status)
		}
		status, _ = p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"wrong"}, "return_to": {"/me?tab=1"}})
		if status != http.StatusUnauthorized || !strings.Contains(p.last, passwordField) || !strings.Contains(p.last, usernameField("pat@acme.example")) {
			t.Errorf("a wrong password: %d; want 401 and the second step again", status)
		}
		// Pat changes the initial password, then signs in again and lands
		// where return_to said.
		p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"initial password given"}})
		if _, path := p.post("/password/change", url.Values{"current": {"initial password given"}, "password": {"my own secret phrase"}, "confirm": {"my own secret phrase"}}); path != "/me?changed=password" {
			t.Fatalf("password change landed on %s", path)
		}
		p.post("/logout", url.Values{})
		p.get("/login?return_to=" + url.QueryEscape("/me?tab=1"))
		p.post("/login", url.Values{"email": {"pat@acme.example"}, "return_to": {"/me?tab=1"}})
		if _, path := p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"my own secret phrase"}, "return_to": {"/me?tab=1"}}); path != "/me?tab=1" {
			t.Errorf("the two steps landed on %s; want /me?tab=1", path)
		}
	})
}

// TestEmailAndPasswordAtOnce: a password manager or a script that posts
// both on the first step signs in directly, unless the account requires
// SSO (then it is sent there; break-glass owners still get in).
func TestEmailAndPasswordAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		s.add(t, s.account(t, "acme"), "pat@acme.example", "initial password given")
		s.add(t, s.account(t, "choice"), "kim@choice.example", "kims initial password")
		for _, tc := range []struct{ email, password, landing string }{
			{"pat@acme.example", "initial password given", "/password/change"},
			// SSO offered but not required: the password still opens it.
			{"kim@choice.example", "kims initial password", "/password/change"},
		} {
			p := s.browser(t)
			p.get("/login")
			if status, path := p.post("/login", url.Values{"email": {tc.email}, "password": {tc.password}}); status != 200 || path != tc.landing {
				t.Errorf("%s, both at once: %d at %s; want %s", tc.email, status, path, tc.landing)
			}
		}
	})
}

// TestEmailFirstByLink: /login?email=E (where a finished reset and an
// accepted invitation send people) opens the second step for E; a link
// with something else in it opens the first step with it filled in.
func TestEmailFirstByLink(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		p := s.browser(t)
		for _, tc := range []struct {
			name, query string
			want, not   []string
		}{
			{"after a reset", "?reset=done&email=pat%40acme.example",
				[]string{"Your new password is saved", passwordField, usernameField("pat@acme.example")}, []string{continueButton}},
			{"an SSO-required address", "?email=kim%40sso.example",
				[]string{`href="/sso/sso-co/login"`}, []string{passwordField, continueButton}},
			{"not an address", "?email=%3Cpat%3E",
				[]string{emailField + ` value="&lt;pat&gt;"`, continueButton}, []string{passwordField, "problems"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if status, _ := p.get("/login" + tc.query); status != http.StatusOK {
					t.Errorf("status %d", status)
				}
				for _, w := range tc.want {
					if !strings.Contains(p.last, w) {
						t.Errorf("the page lacks %s", w)
					}
				}
				for _, n := range tc.not {
					if strings.Contains(p.last, n) {
						t.Errorf("the page has %s", n)
					}
				}
			})
		}
	})
}
