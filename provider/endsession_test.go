package provider_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
)

// signedIn reports whether the browser still has an admit session.
func (b *browser) signedIn() bool {
	b.t.Helper()
	return b.get(b.site.issuer+"/me").url.Path == "/me"
}

// TestEndSessionAsksFirst: RP-initiated logout without an id_token_hint
// (any site can link to it: a logout CSRF, RP-Initiated Logout 1.0
// section 6) shows a page asking the person, and ends nothing until they
// post its form; a post without the form's CSRF token, or from another
// site, is refused. The form goes back to the app's registered
// post_logout_redirect_uri with its state, and the browser's CSP lets it.
func TestEndSessionAsksFirst(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		r, b, tok := signedInToPublicApp(t, s, "SPA")
		end := s.issuer + "/oauth/end_session"

		bare := b.get(end)
		if bare.status != http.StatusOK || bare.url.Path != "/oauth/end_session" || !strings.Contains(bare.body, "Sign out of admit?") ||
			!strings.Contains(bare.body, "ada@acme.example") {
			t.Errorf("a bare GET %s: %d at %s\n%.800s", end, bare.status, bare.url, bare.body)
		}
		if !b.signedIn() {
			t.Fatal("a bare GET of the end-session endpoint signed the browser out")
		}

		asked := url.Values{"client_id": {r.conf.ClientID}, "post_logout_redirect_uri": {appPrefix + "bye"}, "state": {"s1"}}
		p := b.get(end + "?" + asked.Encode())
		if p.status != http.StatusOK || !strings.Contains(p.body, "SPA asks to sign you out of admit") {
			t.Fatalf("with client_id and no hint: %d at %s\n%.800s", p.status, p.url, p.body)
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9") {
			t.Errorf("the confirmation page's CSP does not let its form go on to the app: %s", csp)
		}
		if !b.signedIn() {
			t.Fatal("a GET with client_id and no hint signed the browser out")
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
			t.Errorf("the app's token ended before the person confirmed: %v", err)
		}
		form := url.Values{}
		for _, f := range []string{"csrf_token", "client_id", "post_logout_redirect_uri", "state"} {
			m := hiddenField(f).FindStringSubmatch(p.body)
			if m == nil {
				t.Fatalf("the confirmation form has no %s:\n%s", f, p.body)
			}
			form.Set(f, html.UnescapeString(m[1]))
		}

		confirm := s.issuer + "/oauth/end_session/confirm"
		noToken := url.Values{}
		for k, v := range form {
			if k != "csrf_token" {
				noToken[k] = v
			}
		}
		if p := b.read(b.client.PostForm(confirm, noToken)); p.status != http.StatusForbidden {
			t.Errorf("a post without the CSRF token: %d at %s", p.status, p.url)
		}
		crossSite, _ := http.NewRequest(http.MethodPost, confirm, strings.NewReader(form.Encode()))
		crossSite.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		crossSite.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := b.read(b.client.Do(crossSite)); p.status != http.StatusForbidden {
			t.Errorf("a post from another site: %d at %s", p.status, p.url)
		}
		if !b.signedIn() {
			t.Fatal("a refused post signed the browser out")
		}

		// The form's fields are checked again: an address the app did not
		// register is refused, and nobody is signed out.
		evil := url.Values{}
		for k, v := range form {
			evil[k] = v
		}
		evil.Set("post_logout_redirect_uri", "https://evil.example/")
		if p := b.read(b.client.PostForm(confirm, evil)); p.status != http.StatusBadRequest || strings.Contains(p.url.String(), "evil") {
			t.Errorf("a confirmation to an unregistered address: %d at %s", p.status, p.url)
		}

		done := b.read(b.client.PostForm(confirm, form))
		if q := done.atApp(t); done.url.Path != "/bye" || q.Get("state") != "s1" {
			t.Errorf("the confirmed sign-out landed on %s", done.url)
		}
		if b.signedIn() {
			t.Error("the browser is still signed in after the person confirmed")
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("the app's token works after the confirmed sign-out")
		}
	})
}

// TestEndSessionHints: what an id_token_hint does at once. One of the
// browser's person from this sign-in ends the admit session at once,
// also when it has expired (RP-Initiated Logout 1.0 section 2: an app's
// ID token usually has by the time it signs out); one of another person,
// or from another sign-in of theirs, earlier or later (an ID token travels
// in URLs, and outlives its session in logs), asks first.
func TestEndSessionHints(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		s.invited(a, "bob@acme.example", "correct horse battery", directory.RoleMember)
		app, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{appPrefix + "cb"}, PostLogoutRedirectURIs: []string{appPrefix + "bye"}, Public: true})
		other, _ := s.app(directory.NewApp{Name: "Other", RedirectURIs: []string{appPrefix + "other"}, PostLogoutRedirectURIs: []string{appPrefix + "other-bye"}, Public: true})
		r := newRP(t, s, app, "")
		signIn := func(email string) (*browser, string) {
			t.Helper()
			b := s.browser()
			l := r.start(t)
			tok, err := r.conf.Exchange(ctx, b.code(t, l, email, "correct horse battery"), oauth2.VerifierOption(l.verifier))
			if err != nil {
				t.Fatal(err)
			}
			return b, tok.Extra("id_token").(string)
		}
		end := func(hint string, extra url.Values) string {
			q := url.Values{"post_logout_redirect_uri": {appPrefix + "bye"}, "state": {"s2"}}
			if hint != "" {
				q.Set("id_token_hint", hint)
			}
			for k, v := range extra {
				q[k] = v
			}
			return s.issuer + "/oauth/end_session?" + q.Encode()
		}
		atOnce := func(t *testing.T, b *browser, u string) {
			t.Helper()
			p := b.get(u)
			if q := p.atApp(t); p.url.Path != "/bye" || q.Get("state") != "s2" {
				t.Errorf("landed on %s; want /bye with the state", p.url)
			}
			if b.signedIn() {
				t.Error("the browser is still signed in")
			}
		}
		asks := func(t *testing.T, b *browser, u string) {
			t.Helper()
			p := b.get(u)
			if p.status != http.StatusOK || !strings.Contains(p.body, "Sign out of admit?") || !strings.Contains(p.body, "SPA asks") {
				t.Errorf("%d at %s; want the confirmation page\n%.800s", p.status, p.url, p.body)
			}
			if !b.signedIn() {
				t.Error("the browser was signed out without being asked")
			}
		}

		t.Run("hint of the signed-in person", func(t *testing.T) {
			b, hint := signIn("ada@acme.example")
			atOnce(t, b, end(hint, nil))
		})
		t.Run("expired hint of this sign-in", func(t *testing.T) {
			b, hint := signIn("ada@acme.example")
			atOnce(t, b, end(resign(t, s, hint, func(c map[string]any) {
				c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
			}), nil))
		})
		t.Run("no session in the browser", func(t *testing.T) {
			b := s.browser()
			p := b.get(end("", url.Values{"client_id": {app.ClientID}}))
			if q := p.atApp(t); p.url.Path != "/bye" || q.Get("state") != "s2" {
				t.Errorf("landed on %s; want /bye with the state", p.url)
			}
		})
		t.Run("hint of another person", func(t *testing.T) {
			_, adaHint := signIn("ada@acme.example")
			bob, _ := signIn("bob@acme.example")
			asks(t, bob, end(adaHint, nil))
		})
		t.Run("hint from an earlier sign-in", func(t *testing.T) {
			_, old := signIn("ada@acme.example")
			s.clock.Add(2 * time.Second)
			b, _ := signIn("ada@acme.example")
			asks(t, b, end(old, nil))
		})
		t.Run("hint from a later sign-in in another browser", func(t *testing.T) {
			// The laptop's session began first; the phone's hint (in its
			// history, in a log) is of a sign-in after it, not of this one.
			laptop, _ := signIn("ada@acme.example")
			s.clock.Add(2 * time.Second)
			_, phone := signIn("ada@acme.example")
			asks(t, laptop, end(phone, nil))
		})
		t.Run("a hint ends its own sign-in's tokens only", func(t *testing.T) {
			// An ID token travels in logout URLs: one taken from the
			// laptop's history ends what the laptop's sign-in was given,
			// not the phone's sign-in at the same app.
			tokens := func() (*oauth2.Token, string) {
				l := r.start(t)
				tok, err := r.conf.Exchange(ctx, s.browser().code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
				if err != nil {
					t.Fatal(err)
				}
				return tok, tok.Extra("id_token").(string)
			}
			s.clock.Add(2 * time.Second)
			laptop, laptopHint := tokens()
			s.clock.Add(2 * time.Second)
			phone, _ := tokens()
			p := s.browser().get(end(laptopHint, nil))
			if p.url.Path != "/bye" {
				t.Fatalf("landed on %s; want /bye", p.url)
			}
			if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(laptop)); err == nil {
				t.Error("the laptop's sign-in's access token still works after its hint's sign-out")
			}
			if _, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: laptop.RefreshToken}).Token(); err == nil {
				t.Error("the laptop's sign-in's refresh token still works after its hint's sign-out")
			}
			if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(phone)); err != nil {
				t.Errorf("the phone's sign-in's access token ended with the laptop's hint: %v", err)
			}
			if _, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: phone.RefreshToken}).Token(); err != nil {
				t.Errorf("the phone's sign-in's refresh token ended with the laptop's hint: %v", err)
			}
		})
		t.Run("hint of another app than client_id", func(t *testing.T) {
			b, hint := signIn("ada@acme.example")
			p := b.get(end(hint, url.Values{"client_id": {other.ClientID}, "post_logout_redirect_uri": {appPrefix + "other-bye"}}))
			if p.status != http.StatusBadRequest || strings.HasPrefix(p.url.String(), appPrefix) {
				t.Errorf("%d at %s; want the 400 page", p.status, p.url)
			}
			if !b.signedIn() {
				t.Error("the browser was signed out")
			}
		})
	})
}

// hiddenField finds a form field's value.
func hiddenField(name string) *regexp.Regexp {
	return regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`)
}

// resign is the ID token hint with its claims changed by edit, signed
// again with admit's own key, as admit would have signed it.
func resign(t *testing.T, s *site, hint string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(hint, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", hint)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	edit(claims)
	payload, _ := json.Marshal(claims)
	token, err := s.keys.Sign(context.Background(), jose.RS256, "JWT", payload)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestEndSessionUnknownClient: a sign-out request naming an app admit does
// not have (a typo in an app's configuration, an app since deleted, or
// anyone's guess) is the sender's mistake: the 400 page saying the request
// cannot be accepted, at the endpoint and at the confirmation, never a 500
// (which told the app's developer admit was broken, and raised the
// operator's alerts at any stranger's request), also for one PostgreSQL
// cannot compare (a NUL, bytes that are not UTF-8). Nobody is signed out
// and the browser goes nowhere.
func TestEndSessionUnknownClient(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		_, b, _ := signedInToPublicApp(t, s, "SPA")
		p := b.get(s.issuer + "/oauth/end_session")
		m := hiddenField("csrf_token").FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no confirmation form:\n%.800s", p.body)
		}
		csrf := html.UnescapeString(m[1])
		for _, id := range []string{"nope", strings.Repeat("x", 5000), "admit_app_\x00", "\xff", "%ff"} {
			q := url.Values{"client_id": {id}, "post_logout_redirect_uri": {appPrefix + "bye"}}
			if p := b.get(s.issuer + "/oauth/end_session?" + q.Encode()); p.status != http.StatusBadRequest || strings.HasPrefix(p.url.String(), appPrefix) {
				t.Errorf("end_session with client_id %.20q: %d at %s; want the 400 page", id, p.status, p.url.Path)
			}
			q.Set("csrf_token", csrf)
			if p := b.read(b.client.PostForm(s.issuer+"/oauth/end_session/confirm", q)); p.status != http.StatusBadRequest || strings.HasPrefix(p.url.String(), appPrefix) {
				t.Errorf("the confirmation with client_id %.20q: %d at %s; want the 400 page", id, p.status, p.url.Path)
			}
		}
		if !b.signedIn() {
			t.Error("a request naming no app signed the browser out")
		}
	})
}
