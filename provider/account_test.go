package provider_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
)

// claimsOf exchanges the code the app got and returns the ID token's
// claims and auth_time.
func (r *rp) claimsOf(t *testing.T, l authz, q map[string][]string) (appClaims, time.Time) {
	t.Helper()
	code := ""
	if c := q["code"]; len(c) == 1 {
		code = c[0]
	}
	tok, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(l.verifier))
	if err != nil {
		t.Fatalf("exchange (the app got %v): %v", q, err)
	}
	idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c appClaims
	var at struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idt.Claims(&c); err != nil || idt.Claims(&at) != nil {
		t.Fatal(err)
	}
	return c, time.Unix(at.AuthTime, 0)
}

// TestTheAccountTheAppAsksFor: an app for every account gets the account
// the person chose, or the one it asks for with the scope account:SLUG,
// or the home realm of its login_hint; asking for an account the person
// is not in, or one that does not exist, gets access_denied.
func TestTheAccountTheAppAsksFor(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		acme, globex := s.account("acme", "acme.example"), s.account("globex")
		s.account("initech")
		s.invited(acme, "ada@acme.example", "correct horse battery", directory.RoleMember)
		if _, err := s.dir.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "Lovelace", Role: directory.RoleOwner}); err != nil {
			t.Fatal(err)
		}
		wiki, secret := s.app(directory.NewApp{Name: "Wiki", RedirectURIs: []string{appPrefix + "w"}})
		r := newRP(t, s, wiki, secret)
		b := s.browser()
		scope := func(extra string) oauth2.AuthCodeOption {
			return oauth2.SetAuthURLParam("scope", "openid profile email "+extra)
		}

		// The person chooses globex at sign-in.
		l := r.start(t)
		q := b.choose(b.signIn(b.get(l.url), "ada@acme.example", "correct horse battery"), globex.ID).atApp(t)
		if c, _ := r.claimsOf(t, l, q); c.Account.Slug != "globex" || c.Role != "owner" {
			t.Errorf("chosen: account %q role %q; want globex, owner", c.Account.Slug, c.Role)
		}

		for _, tc := range []struct {
			name string
			opts []oauth2.AuthCodeOption
			want string // the account's slug, or the error
		}{
			{"asks for acme", []oauth2.AuthCodeOption{scope("account:acme")}, "acme"},
			{"asks for globex", []oauth2.AuthCodeOption{scope("account:globex")}, "globex"},
			{"login_hint in acme's verified domain", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("login_hint", "ada@acme.example")}, "acme"},
			{"the scope wins over login_hint", []oauth2.AuthCodeOption{scope("account:globex"), oauth2.SetAuthURLParam("login_hint", "ada@acme.example")}, "globex"},
			{"asks for an account the person is not in", []oauth2.AuthCodeOption{scope("account:initech")}, "access_denied"},
			{"asks for an account that does not exist", []oauth2.AuthCodeOption{scope("account:nope")}, "access_denied"},
			{"nothing asked: the session's account", nil, "globex"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l := r.start(t, tc.opts...)
				q := b.get(l.url).atApp(t)
				if e := q.Get("error"); e != "" || tc.want == "access_denied" {
					if e != tc.want || q.Get("code") != "" {
						t.Errorf("the app got %v; want %s", q, tc.want)
					}
					return
				}
				if c, _ := r.claimsOf(t, l, q); c.Account.Slug != tc.want {
					t.Errorf("account %q; want %q", c.Account.Slug, tc.want)
				}
			})
		}

		// An app for one account refuses to be asked for another.
		only, os := s.app(directory.NewApp{Name: "Acme only", RedirectURIs: []string{appPrefix + "a"}, AccountID: acme.ID})
		q = b.get(newRP(t, s, only, os).start(t, scope("account:globex")).url).atApp(t)
		if q.Get("error") != "access_denied" {
			t.Errorf("the Acme app asked for globex: %v; want access_denied", q)
		}
	})
}

// TestReauthentication: prompt=login and a max_age the sign-in is older
// than send the person to sign in again (as themself, the email filled
// in), and the ID token's auth_time is the new sign-in; prompt=none then
// gets login_required; a sign-in young enough passes.
func TestReauthentication(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		a := s.account("acme")
		s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		wiki, secret := s.app(directory.NewApp{Name: "Wiki", RedirectURIs: []string{appPrefix + "w"}})
		r := newRP(t, s, wiki, secret)
		b := s.browser()
		l := r.start(t)
		_, first := r.claimsOf(t, l, b.signIn(b.get(l.url), "ada@acme.example", "correct horse battery").atApp(t))

		s.clock.Add(10 * time.Minute)
		// Young enough, or nothing asked: no page.
		for _, opts := range [][]oauth2.AuthCodeOption{nil, {oauth2.SetAuthURLParam("max_age", "3600")}} {
			l := r.start(t, opts...)
			if _, at := r.claimsOf(t, l, b.get(l.url).atApp(t)); !at.Equal(first) {
				t.Errorf("auth_time %v; want the first sign-in's %v", at, first)
			}
		}
		// Too old for the app, and no page allowed.
		q := b.get(r.start(t, oauth2.SetAuthURLParam("max_age", "60"), oauth2.SetAuthURLParam("prompt", "none")).url).atApp(t)
		if q.Get("error") != "login_required" {
			t.Errorf("max_age=60 with prompt=none: %v; want login_required", q)
		}
		for _, opts := range [][]oauth2.AuthCodeOption{{oauth2.SetAuthURLParam("prompt", "login")}, {oauth2.SetAuthURLParam("max_age", "60")}} {
			s.clock.Add(2 * time.Minute)
			l := r.start(t, opts...)
			p := b.get(l.url)
			if p.url.Path != "/login" || p.url.Query().Get("email") != "ada@acme.example" {
				t.Fatalf("%v: at %s; want the sign-in page for ada", opts, p.url)
			}
			_, at := r.claimsOf(t, l, b.signIn(p, "ada@acme.example", "correct horse battery").atApp(t))
			if !at.After(first) {
				t.Errorf("%v: auth_time %v; want a new sign-in after %v", opts, at, first)
			}
		}
	})
}

// TestPromptNoneShowsNoPage: with prompt=none the app gets an answer at
// its redirect URI whatever the browser's state (OIDC Core section
// 3.1.2.6), never a page: a person who must first change the password an
// admin set gets interaction_required, not the password change page.
func TestPromptNoneShowsNoPage(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		// Signed in with the initial password, not yet changed.
		r, b, _, _ := atInitialPasswordChange(t, s)
		l := r.start(t, oauth2.SetAuthURLParam("prompt", "none"))
		q := b.get(l.url).atApp(t)
		if q.Get("error") != "interaction_required" || q.Get("state") != l.state || q.Get("code") != "" {
			t.Errorf("prompt=none for a person who must change their password: %v; want interaction_required", q)
		}
	})
}

// TestPromptNoneForAnotherPerson: a silent renewal names the person the
// app knows with id_token_hint; when someone else is signed in to admit
// in that browser, the app gets login_required (OIDC Core section
// 3.1.2.1), not a code for the other person.
func TestPromptNoneForAnotherPerson(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		s.invited(a, "bob@acme.example", "staple battery horse", directory.RoleMember)
		wiki, secret := s.app(directory.NewApp{Name: "Wiki", RedirectURIs: []string{appPrefix + "w"}})
		r := newRP(t, s, wiki, secret)
		ada, bob := s.browser(), s.browser()
		l := r.start(t)
		tok, err := r.conf.Exchange(ctx, ada.code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
		if err != nil {
			t.Fatal(err)
		}
		hint := oauth2.SetAuthURLParam("id_token_hint", tok.Extra("id_token").(string))
		bob.code(t, r.start(t), "bob@acme.example", "staple battery horse")

		silent := r.start(t, oauth2.SetAuthURLParam("prompt", "none"), hint)
		if q := bob.get(silent.url).atApp(t); q.Get("error") != "login_required" || q.Get("code") != "" || q.Get("state") != silent.state {
			t.Errorf("prompt=none with ada's id_token_hint in bob's browser: %v; want login_required", q)
		}
		silent = r.start(t, oauth2.SetAuthURLParam("prompt", "none"), hint)
		if q := ada.get(silent.url).atApp(t); q.Get("code") == "" {
			t.Errorf("prompt=none with ada's id_token_hint in ada's browser: %v; want a code", q)
		}
	})
}

// TestInitialPasswordChangeReturnsToApp: a person added with a password
// they must change signs in to an app, changes it on the way, and lands
// back in the app's authorization, and so in the app: not on admit's home
// page, with the app's request lost. The password change page allows the
// app's redirect URI in its CSP form-action, as the sign-in form does.
func TestInitialPasswordChangeReturnsToApp(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		r, b, l, p := atInitialPasswordChange(t, s)
		resp, err := b.client.Get(p.url.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9;") {
			t.Errorf("password change on the way to the app: CSP %q; want the app's redirect URI in form-action", csp)
		}
		q := b.changePassword(p, "initial password given", "a phrase only pat knows").atApp(t)
		if q.Get("state") != l.state || q.Get("code") == "" {
			t.Fatalf("after the password change the app got %v; want a code and its state", q)
		}
		if c, _ := r.claimsOf(t, l, q); c.Email != "pat@acme.example" {
			t.Errorf("the app signed in %q; want pat", c.Email)
		}
	})
}

// atInitialPasswordChange is pat@acme.example, added with a password an
// admin gave, who starts the Wiki app's sign-in (l) and signs in with it:
// the browser b is at the password change page p, on the way to the app.
func atInitialPasswordChange(t *testing.T, s *site) (*rp, *browser, authz, page) {
	t.Helper()
	a := s.account("acme")
	if _, err := s.dir.AddUser(context.Background(), a.ID, operator, directory.NewUser{Email: "pat@acme.example", FirstName: "Pat", LastName: "Q", Password: "initial password given"}); err != nil {
		t.Fatal(err)
	}
	wiki, secret := s.app(directory.NewApp{Name: "Wiki", RedirectURIs: []string{appPrefix + "w"}})
	r := newRP(t, s, wiki, secret)
	b := s.browser()
	l := r.start(t)
	p := b.signIn(b.get(l.url), "pat@acme.example", "initial password given")
	if p.url.Path != "/password/change" {
		t.Fatalf("after signing in with the initial password: %d %s", p.status, p.url)
	}
	return r, b, l, p
}

// TestPromptValues: OpenID Connect Core section 3.1.2.1's prompt values.
// consent asks nothing (admit has no consent page: the operator registered
// the app) and gets no error; select_account shows the account chooser to
// a person in several accounts, when the app leaves the account to them,
// and the app gets the account chosen, ahead of login_hint's; without a
// choice to make it goes on without a page. none with any other value is
// invalid_request.
func TestPromptValues(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		acme, globex := s.account("acme", "acme.example"), s.account("globex")
		s.invited(acme, "ada@acme.example", "correct horse battery", directory.RoleMember)
		if _, err := s.dir.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "Lovelace", Role: directory.RoleOwner}); err != nil {
			t.Fatal(err)
		}
		s.invited(s.account("initech"), "bob@initech.example", "correct horse battery", directory.RoleMember)
		wiki, secret := s.app(directory.NewApp{Name: "Wiki", RedirectURIs: []string{appPrefix + "w"}})
		acmeOnly, acmeSecret := s.app(directory.NewApp{Name: "Acme wiki", RedirectURIs: []string{appPrefix + "a"}, AccountID: acme.ID})
		r, ra := newRP(t, s, wiki, secret), newRP(t, s, acmeOnly, acmeSecret)
		ada, bob := s.browser(), s.browser()
		l := r.start(t)
		ada.choose(ada.signIn(ada.get(l.url), "ada@acme.example", "correct horse battery"), acme.ID).atApp(t)
		bob.code(t, r.start(t), "bob@initech.example", "correct horse battery")
		prompt := func(p string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("prompt", p) }

		for _, tc := range []struct {
			name    string
			b       *browser
			r       *rp
			opts    []oauth2.AuthCodeOption
			chooser bool   // the account chooser comes first: globex is chosen
			want    string // the account's slug, or the error
		}{
			{"consent", ada, r, []oauth2.AuthCodeOption{prompt("consent")}, false, "acme"},
			{"select_account, several accounts", ada, r, []oauth2.AuthCodeOption{prompt("select_account")}, true, "globex"},
			{"select_account and consent", ada, r, []oauth2.AuthCodeOption{prompt("consent select_account")}, true, "globex"},
			{"select_account beats login_hint's home realm", ada, r, []oauth2.AuthCodeOption{prompt("select_account"), oauth2.SetAuthURLParam("login_hint", "ada@acme.example")}, true, "globex"},
			{"select_account, the app asks for an account", ada, r, []oauth2.AuthCodeOption{prompt("select_account"), oauth2.SetAuthURLParam("scope", "openid account:acme")}, false, "acme"},
			{"select_account, an app for one account", ada, ra, []oauth2.AuthCodeOption{prompt("select_account")}, false, "acme"},
			{"select_account, one account", bob, r, []oauth2.AuthCodeOption{prompt("select_account")}, false, "initech"},
			{"none and consent", ada, r, []oauth2.AuthCodeOption{prompt("none consent")}, false, "invalid_request"},
			{"none and select_account", ada, r, []oauth2.AuthCodeOption{prompt("none select_account")}, false, "invalid_request"},
			{"none and login", ada, r, []oauth2.AuthCodeOption{prompt("login none")}, false, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l := tc.r.start(t, tc.opts...)
				p := tc.b.get(l.url)
				if tc.chooser {
					p = tc.b.choose(p, globex.ID)
				}
				q := p.atApp(t)
				if e := q.Get("error"); e != "" || strings.Contains(tc.want, "_") {
					if e != tc.want || q.Get("code") != "" || q.Get("state") != l.state {
						t.Errorf("the app got %v; want %s", q, tc.want)
					}
					return
				}
				if c, _ := tc.r.claimsOf(t, l, q); c.Account.Slug != tc.want {
					t.Errorf("account %q; want %q", c.Account.Slug, tc.want)
				}
				if tc.chooser {
					// Back to acme, for the next case.
					l := r.start(t, prompt("select_account"))
					ada.choose(ada.get(l.url), acme.ID).atApp(t)
				}
			})
		}
	})
}

// TestSelectAccountAtFirstSignInAsksOnce: a person in several accounts
// who never chose one signs in for the first time through an app that
// asks them to choose (prompt=select_account): the account chooser is
// shown once, and the app gets the account chosen there. The sign-in
// showed it to a person without a choice on record, and the app's
// request then showed it again.
func TestSelectAccountAtFirstSignInAsksOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		acme, globex := s.account("acme"), s.account("globex")
		s.invited(acme, "ada@acme.example", "correct horse battery", directory.RoleMember)
		if _, err := s.dir.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "Lovelace"}); err != nil {
			t.Fatal(err)
		}
		app, secret := s.app(directory.NewApp{Name: "Wiki", RedirectURIs: []string{appPrefix + "w"}})
		r := newRP(t, s, app, secret)
		b := s.browser()
		l := r.start(t, oauth2.SetAuthURLParam("prompt", "select_account"))
		p := b.choose(b.signIn(b.get(l.url), "ada@acme.example", "correct horse battery"), globex.ID)
		if p.url.Path == "/login/account" {
			t.Fatal("the account chooser was shown a second time")
		}
		if c, _ := r.claimsOf(t, l, p.atApp(t)); c.Account.Slug != "globex" {
			t.Errorf("the app got account %q; want globex, the one chosen", c.Account.Slug)
		}
		// Signed in now, with a choice on record: select_account asks
		// once, for the app.
		l = r.start(t, oauth2.SetAuthURLParam("prompt", "select_account"))
		if c, _ := r.claimsOf(t, l, b.choose(b.get(l.url), acme.ID).atApp(t)); c.Account.Slug != "acme" {
			t.Errorf("the app got account %q; want acme, the one chosen", c.Account.Slug)
		}
	})
}
