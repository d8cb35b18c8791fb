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
	registered := decode[appJSON](t, cli("", "app", "add", "--name", "Wiki", "--redirect-uri", app.URL+"/cb", "--public", "--json"))
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
	s.stop(t)
}

// TestAppSignInThroughSSOInBrowser: in Chromium, an app sends a person of
// an account with single sign-on to admit; the sign-in page offers the
// account's SSO, which signs them in at their company's provider (just in
// time) and brings them back to the app, with the claims of an SSO login.
func TestAppSignInThroughSSOInBrowser(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	p := oidctest.Start(t, oidctest.Client{ID: "admit", Secret: "s3cret", RedirectURI: base + "/sso/acme/oidc/corp/callback"})
	p.AddUser(oidctest.User{Username: "nia", Email: "nia@example.com", EmailVerified: true, GivenName: "Nia", FamilyName: "Ng"})
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
	registered := decode[appJSON](t, cli("", "app", "add", "--name", "Wiki", "--redirect-uri", app.URL+"/cb", "--public", "--json"))
	s := startServer(t, t.TempDir(), settings...)

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: registered.ClientID, Endpoint: provider.Endpoint(), RedirectURL: app.URL + "/cb", Scopes: []string{oidc.ScopeOpenID, "email"}}
	verifier := oauth2.GenerateVerifier()
	browser := newBrowser(t)
	err = chromedp.Do(browser,
		chromedp.Navigate(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", "nia@example.com"))),
		chromedp.WaitVisible(`#password`), // admit's sign-in page, the address filled in
		chromedp.SendKeys(`#password`, "not a password of admit"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`//a[contains(., "Continue with Acme Inc")]`),
		chromedp.Click(`//a[contains(., "Continue with Acme Inc")]`),
		chromedp.WaitVisible(`#username`), // the company's provider
		chromedp.SendKeys(`#username`, "nia"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#arrived`),
	)
	if err != nil {
		where, _ := chromedp.Run(browser, chromedp.Location())
		t.Fatalf("SSO sign-in for the app: %v (the browser is at %s)\n%s", err, where, s.logs)
	}
	mu.Lock()
	values, _ := url.ParseQuery(got)
	mu.Unlock()
	tok, err := conf.Exchange(ctx, values.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange (the app got %v): %v", values, err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: registered.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		AMR           []string `json:"amr"`
		Account       struct {
			Slug string `json:"slug"`
		} `json:"account"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != "nia@example.com" || !claims.EmailVerified || len(claims.AMR) != 1 || claims.AMR[0] != "oidc" || claims.Account.Slug != "acme" {
		t.Errorf("claims of an SSO sign-in: %+v", claims)
	}
	s.stop(t)
}
