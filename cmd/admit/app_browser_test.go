package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/sso/oidctest"
	"github.com/admit-dev/admit/store/storetest"
)

// TestAppSignInInBrowser: in Chromium, an app on another origin sends the
// person to admit, they sign in with the form, and the browser arrives
// back at the app with a code. The form's answer redirects across origins
// twice (admit's sign-in step, then the app), which the page's CSP
// form-action must allow for this app and this sign-in only.
func TestAppSignInInBrowser(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	db := storetest.SQLiteURL(t)
	settings := []string{"ADMIT_DATABASE_URL=" + db, "ADMIT_BASE_URL=" + base, "ADMIT_ADDR=" + addr, "ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), stdin, args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	var mu sync.Mutex
	var got string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bye" {
			mu.Lock()
			got = r.URL.RawQuery
			mu.Unlock()
			fmt.Fprint(w, `<!doctype html><title>app</title><p id="signed-out">signed out of the app</p>`)
			return
		}
		if r.URL.Path != "/cb" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		got = r.URL.RawQuery
		mu.Unlock()
		fmt.Fprint(w, `<!doctype html><title>app</title><p id="arrived">back at the app</p>`)
	}))
	t.Cleanup(app.Close)
	cli("", "account", "create", "--slug", "acme", "--name", "Acme")
	cli("initial password given\n", "user", "add", "--account", "acme", "--email", "pat@acme.example", "--first", "Pat", "--last", "Q", "--password-stdin")
	registered := decode[appJSON](t, cli("", "app", "add", "--name", "Wiki", "--redirect-uri", app.URL+"/cb", "--post-logout-redirect-uri", app.URL+"/bye", "--public", "--json"))
	s := startServer(t, t.TempDir(), settings...)

	// Pat chooses their own password first, in one browser.
	first := newBrowser(t)
	err := chromedp.Do(first,
		chromedp.Navigate(s.url+"/login"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "pat@acme.example"),
		chromedp.Click(`button[type=submit]`), // email first
		chromedp.WaitVisible(`#signing-in-as`),
		chromedp.SendKeys(`#password`, "initial password given"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#current`),
		chromedp.SendKeys(`#current`, "initial password given"),
		chromedp.SendKeys(`#password`, "a phrase only pat knows"),
		chromedp.SendKeys(`#confirm`, "a phrase only pat knows"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#current-account`),
	)
	if err != nil {
		t.Fatalf("password change: %v\n%s", err, s.logs)
	}

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: registered.ClientID, Endpoint: provider.Endpoint(), RedirectURL: app.URL + "/cb", Scopes: []string{oidc.ScopeOpenID, "email"}}
	verifier := oauth2.GenerateVerifier()
	browser := newBrowser(t)
	err = chromedp.Do(browser,
		chromedp.Navigate(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "pat@acme.example"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#signing-in-as`),
		chromedp.SendKeys(`#password`, "a phrase only pat knows"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#arrived`),
	)
	if err != nil {
		where, _ := chromedp.Run(browser, chromedp.Location())
		t.Fatalf("sign-in for the app: %v (the browser is at %s)\n%s", err, where, s.logs)
	}
	mu.Lock()
	query := got
	mu.Unlock()
	values, _ := url.ParseQuery(query)
	if values.Get("state") != "st" || values.Get("code") == "" {
		t.Fatalf("the app got %q", query)
	}
	tok, err := conf.Exchange(ctx, values.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: registered.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil || !strings.EqualFold(claims.Email, "pat@acme.example") {
		t.Errorf("claims %+v, %v", claims, err)
	}

	// RP-initiated logout without an id_token_hint asks first; the
	// person's Sign out posts to admit, whose answer redirects to the
	// app's origin, which the page's CSP form-action must allow.
	err = chromedp.Do(browser,
		chromedp.Navigate(base+"/oauth/end_session?"+url.Values{"client_id": {registered.ClientID}, "post_logout_redirect_uri": {app.URL + "/bye"}, "state": {"bye-state"}}.Encode()),
		chromedp.WaitVisible(`#sign-out`),
		chromedp.Click(`#sign-out`),
		chromedp.WaitVisible(`#signed-out`),
		chromedp.Navigate(base+"/me"),
		chromedp.WaitVisible(`#email`),
	)
	if err != nil {
		where, _ := chromedp.Run(browser, chromedp.Location())
		t.Fatalf("sign-out for the app: %v (the browser is at %s)\n%s", err, where, s.logs)
	}
	mu.Lock()
	query = got
	mu.Unlock()
	if values, _ := url.ParseQuery(query); values.Get("state") != "bye-state" {
		t.Errorf("after the sign-out the app got %q; want the state", query)
	}
	if where, err := chromedp.Run(browser, chromedp.Location()); err != nil || !strings.HasPrefix(where, base+"/login") {
		t.Errorf("after the sign-out /me went to %s (%v); want the sign-in page", where, err)
	}
	s.stop(t)
}

// TestAppSignInThroughSSOInBrowser: in Chromium, an app written as any
// Go app would be (go-oidc, x/oauth2) signs people in through admit and
// reads their claims: a person of an account with OIDC single sign-on
// (created just in time, the sign-in page offering the account's SSO for
// the app's login_hint), a person of an account with SAML (crewjam's
// samlidp, just in time too), and a person who has just accepted an
// invitation. email_verified is true only where something proved the
// address: a connection of the account's verified domain, or the emailed
// invitation link.
func TestAppSignInThroughSSOInBrowser(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	p := oidctest.Start(t, oidctest.Client{ID: "admit", Secret: "s3cret", RedirectURI: base + "/sso/acme/oidc/corp/callback"})
	p.AddUser(oidctest.User{Username: "nia", Email: "nia@example.com", EmailVerified: true, GivenName: "Nia", FamilyName: "Ng",
		Claims: map[string]any{"groups": []string{"engineering"}}})
	idp := samlIdP(t)
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), "ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"ADMIT_ADDR=" + addr, "ADMIT_BASE_URL=" + base, allowLoopback}
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), stdin, args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	var mu sync.Mutex
	var got string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bye" {
			mu.Lock()
			got = r.URL.RawQuery
			mu.Unlock()
			fmt.Fprint(w, `<!doctype html><title>app</title><p id="signed-out">signed out of the app</p>`)
			return
		}
		if r.URL.Path != "/cb" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		got = r.URL.RawQuery
		mu.Unlock()
		fmt.Fprint(w, `<!doctype html><title>app</title><p id="arrived">back at the app</p>`)
	}))
	t.Cleanup(app.Close)
	cli("", "account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "example.com")
	cli("s3cret\n", "sso", "add-oidc", "--account", "acme", "--name", "corp", "--issuer", p.Issuer, "--client-id", "admit", "--client-secret-stdin")
	cli("", "account", "create", "--slug", "globex", "--name", "Globex", "--domain", "globex.example")
	cli("", "sso", "add-saml", "--account", "globex", "--name", "okta", "--metadata-url", idp.URL+"/metadata")
	registered := decode[appJSON](t, cli("", "app", "add", "--name", "Wiki", "--redirect-uri", app.URL+"/cb", "--post-logout-redirect-uri", app.URL+"/bye", "--public", "--json"))
	s := startServer(t, t.TempDir(), settings...)
	put(t, idp.URL+"/services/admit", "application/xml", getBody(t, s.url+"/sso/globex/saml/okta/metadata"))
	putIdPUser(t, idp.URL, "sam", "sam@globex.example", "Sam", "Stone")

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: registered.ClientID, Endpoint: provider.Endpoint(), RedirectURL: app.URL + "/cb", Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
	browser := newBrowser(t)
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(browser, actions...); err != nil {
			t.Fatalf("%s: %v (the browser is at %s)\n%s", step, err, browserAt(browser), s.logs)
		}
	}
	type appClaims struct {
		Subject       string   `json:"sub"`
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		Name          string   `json:"name"`
		Role          string   `json:"role"`
		Groups        []string `json:"groups"`
		AMR           []string `json:"amr"`
		Account       struct {
			Slug string `json:"slug"`
		} `json:"account"`
	}
	// signIn runs the browser from the app's authorization request through
	// steps, then exchanges the code and reads the ID token and userinfo.
	// The browser starts signed out, unless it is for a loginHint of "".
	signIn := func(step, loginHint string, steps ...chromedp.Action[chromedp.Void]) appClaims {
		t.Helper()
		if loginHint != "" {
			if _, err := chromedp.Call(browser, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
				t.Fatal(err)
			}
		}
		verifier := oauth2.GenerateVerifier()
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
		if loginHint != "" {
			opts = append(opts, oauth2.SetAuthURLParam("login_hint", loginHint))
		}
		do(step, append(append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(conf.AuthCodeURL("st", opts...))}, steps...), chromedp.WaitVisible(`#arrived`))...)
		mu.Lock()
		values, _ := url.ParseQuery(got)
		mu.Unlock()
		tok, err := conf.Exchange(ctx, values.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("%s: exchange (the app got %v): %v", step, values, err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: registered.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var claims, fromUserinfo appClaims
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Claims(&fromUserinfo) != nil {
			t.Fatalf("%s: userinfo: %v", step, err)
		}
		if fromUserinfo.Subject != claims.Subject || fromUserinfo.Email != claims.Email || fromUserinfo.Account.Slug != claims.Account.Slug {
			t.Errorf("%s: userinfo %+v differs from the ID token %+v", step, fromUserinfo, claims)
		}
		return claims
	}
	check := func(step string, c appClaims, email, name, account, role, amr string, verified bool) {
		t.Helper()
		if c.Subject == "" || c.Subject == c.Email || c.Email != email || c.EmailVerified != verified || c.Name != name ||
			c.Account.Slug != account || c.Role != role || len(c.AMR) != 1 || c.AMR[0] != amr {
			t.Errorf("%s: claims %+v; want %s (verified %v), %s, %s in %s, amr %s", step, c, email, verified, name, role, account, amr)
		}
	}

	nia := signIn("OIDC", "nia@example.com",
		chromedp.WaitVisible(`#password`), // admit's sign-in page, the address filled in
		chromedp.SendKeys(`#password`, "not a password of admit"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`//a[contains(., "Continue with Acme Inc")]`),
		chromedp.Click(`//a[contains(., "Continue with Acme Inc")]`),
		chromedp.WaitVisible(`#username`), // the company's provider
		chromedp.SendKeys(`#username`, "nia"),
		chromedp.Click(`button[type=submit]`))
	check("OIDC", nia, "nia@example.com", "Nia Ng", "acme", "member", "oidc", true)
	if len(nia.Groups) != 1 || nia.Groups[0] != "engineering" {
		t.Errorf("OIDC: groups %v; want the provider's [engineering]", nia.Groups)
	}

	samClaims := signIn("SAML", "sam@globex.example",
		chromedp.WaitVisible(`//a[contains(., "Continue with Globex")]`),
		chromedp.Click(`//a[contains(., "Continue with Globex")]`),
		chromedp.WaitVisible(`input[name=user]`), // samlidp's login form
		chromedp.SendKeys(`input[name=user]`, "sam"),
		chromedp.SendKeys(`input[name=password]`, "pw-sam"),
		// samlidp's form posts to its /login, which only opens an IdP
		// session; posted to /sso, the same fields answer the request.
		chromedp.Evaluate[chromedp.Void](`document.forms[0].action = location.origin + "/sso"`),
		chromedp.Click(`input[type=submit]`))
	// globex.example is globex's domain, declared by the operator; the
	// connection serves it, so the address is proven by the login.
	check("SAML", samClaims, "sam@globex.example", "Sam Stone", "globex", "member", "saml", true)

	// An invitation just accepted: the emailed link proves the address.
	cli("", "invite", "create", "--account", "acme", "--email", "ivy@ivy.example", "--role", "admin")
	var text string
	for deadline := time.Now().Add(20 * time.Second); ; {
		list := decode[[]mailJSON](t, cli("", "mail", "list", "--account", "acme", "--json"))
		if len(list) == 1 && list[0].Status == "kept" {
			text = decode[map[string]string](t, cli("", "mail", "show", "--account", "acme", "--id", list[0].ID, "--json"))["text"]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the invitation never reached the dev mailbox")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := chromedp.Call(browser, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	do("accepting the invitation",
		chromedp.Navigate(s.url+inviteLink.FindString(text)),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#first_name`, "Ivy"),
		chromedp.SendKeys(`#last_name`, "Ives"),
		chromedp.SendKeys(`#password`, "ivy's own long passphrase 7"),
		chromedp.SendKeys(`#confirm`, "ivy's own long passphrase 7"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`p[role=status]`))
	// Accepting signed Ivy in: the app's request goes straight back.
	ivy := signIn("invitation", "")
	check("invitation", ivy, "ivy@ivy.example", "Ivy Ives", "acme", "admin", "pwd", true)
	s.stop(t)
}
