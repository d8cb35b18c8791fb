package provider_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store/storetest"
)

// descriptionGrammar is error_description's: RFC 6749 section 5.2,
// 1*( %x20-21 / %x23-5B / %x5D-7E ).
var descriptionGrammar = regexp.MustCompile(`^[\x20-\x21\x23-\x5B\x5D-\x7E]+$`)

// TestErrorDescriptionsArePrintableASCII: an error_description carries
// what the app or the operator named (an app's name, an organisation's
// slug, a parameter), but only printable ASCII without '"' and '\' (RFC
// 6749 section 5.2), at the redirect URI and at the token endpoint: a
// library that checks the grammar refuses the answer whole. On SQLite
// only: the text does not depend on the store.
func TestErrorDescriptionsArePrintableASCII(t *testing.T) {
	s := newSite(t, storetest.SQLite(t))
	s.invited(s.account("acme"), "ada@acme.example", "correct horse battery", directory.RoleMember)
	app, secret := s.app(directory.NewApp{Name: `Café “Wiki” \ Tools`, RedirectURIs: []string{appPrefix + "web"}})
	r := newRP(t, s, app, secret)
	b := s.browser()

	l := r.start(t, oauth2.SetAuthURLParam("scope", "openid account:nope"))
	p := b.get(l.url)
	if p.url.Path == "/login" {
		p = b.signIn(p, "ada@acme.example", "correct horse battery")
	}
	q := p.atApp(t)
	d := q.Get("error_description")
	if q.Get("error") != "access_denied" || !descriptionGrammar.MatchString(d) || !strings.Contains(d, `Cafe 'Wiki' / Tools asked for an organisation ('nope')`) {
		t.Errorf("the app got error %q, error_description %q; want access_denied and a description of printable ASCII without \" or \\ naming the app", q.Get("error"), d)
	}

	a := call(t, "POST", s.issuer+"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {appPrefix + "web"}, "é\"\\": {"1", "2"}},
		app.ClientID, secret)
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error != "invalid_request" || !descriptionGrammar.MatchString(e.Description) {
		t.Errorf("a repeated parameter of another alphabet: %d %s; want invalid_request with an error_description of printable ASCII without \" or \\", a.status, a.body)
	}
}

// TestCodeExchangeWithoutRedirectURI: a code exchange must send the
// redirect_uri of its authorization request (RFC 6749 section 4.1.3;
// every request to admit has one): without it, the request lacks a
// required parameter, invalid_request (section 5.2), and the code stays
// good; with another one, the grant is not the app's, invalid_grant.
func TestCodeExchangeWithoutRedirectURI(t *testing.T) {
	s := newSite(t, storetest.SQLite(t))
	s.invited(s.account("acme"), "ada@acme.example", "correct horse battery", directory.RoleMember)
	app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web", appPrefix + "other"}})
	r := newRP(t, s, app, secret)
	b := s.browser()
	exchange := func(code, verifier string, redirectURI ...string) (int, string) {
		t.Helper()
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
		for _, u := range redirectURI {
			form.Set("redirect_uri", u)
		}
		a := call(t, "POST", s.issuer+"/oauth/token", form, app.ClientID, secret)
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal([]byte(a.body), &e)
		return a.status, e.Error
	}
	l := r.start(t)
	code := b.code(t, l, "ada@acme.example", "correct horse battery")
	if status, e := exchange(code, l.verifier); status != http.StatusBadRequest || e != "invalid_request" {
		t.Errorf("a code exchange without redirect_uri: %d %s; want 400 invalid_request", status, e)
	}
	if status, e := exchange(code, l.verifier, ""); status != http.StatusBadRequest || e != "invalid_request" {
		t.Errorf("a code exchange with an empty redirect_uri: %d %s; want 400 invalid_request", status, e)
	}
	if status, e := exchange(code, l.verifier, appPrefix+"web"); status != http.StatusOK {
		t.Errorf("the same code, with its redirect_uri: %d %s; want tokens (the refusals used nothing up)", status, e)
	}
	l = r.start(t)
	if status, e := exchange(b.code(t, l, "", ""), l.verifier, appPrefix+"other"); status != http.StatusBadRequest || e != "invalid_grant" {
		t.Errorf("a code exchange with another registered redirect_uri: %d %s; want 400 invalid_grant", status, e)
	}
}

// TestExpiresInIsTheLifetime: expires_in is the access token's lifetime,
// 900 seconds, at the code exchange and at a refresh, not 899: the
// milliseconds between issuing the token and answering are rounded, not
// cut. On SQLite only: the arithmetic does not depend on the store.
func TestExpiresInIsTheLifetime(t *testing.T) {
	s := newSite(t, storetest.SQLite(t))
	ctx := context.Background()
	s.invited(s.account("acme"), "ada@acme.example", "correct horse battery", directory.RoleMember)
	app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
	r := newRP(t, s, app, secret)
	l := r.start(t)
	code := s.browser().code(t, l, "ada@acme.example", "correct horse battery")
	// The directory's clock, which the tokens' expiry comes from, is the
	// real one now, as in production.
	want := int64(directory.AppAccessTokenTTL / time.Second)
	s.clock.Add(time.Since(s.clock.Now()))
	tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(l.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != want {
		t.Errorf("expires_in of the code exchange = %d; want %d", tok.ExpiresIn, want)
	}
	s.clock.Add(time.Since(s.clock.Now()))
	refreshed, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.ExpiresIn != want {
		t.Errorf("expires_in of the refresh = %d; want %d", refreshed.ExpiresIn, want)
	}
}
