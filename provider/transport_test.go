package provider_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store/storetest"
)

// TestTokensStayOutOfURLs: the endpoints an app calls take codes, refresh
// tokens, client secrets and access tokens only where RFC 6749 section 3.2
// and RFC 6750 section 2 put them (the form body, the Authorization
// header), never in a URL that proxies and the app log; a request that
// puts them there gets an error, no tokens. And no answer that carries a
// token or the person's claims may be cached (RFC 6749 section 5.1).
//
// On SQLite only: how a request travels does not depend on the store.
func TestTokensStayOutOfURLs(t *testing.T) {
	s := newSite(t, storetest.SQLite(t))
	ctx := context.Background()
	s.invited(s.account("acme"), "ada@acme.example", "correct horse battery", directory.RoleMember)
	app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
	r := newRP(t, s, app, secret)
	b := s.browser()
	b.code(t, r.start(t), "ada@acme.example", "correct horse battery") // signed in from here on
	exchange := func(l authz) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {b.code(t, l, "", "")}, "redirect_uri": {appPrefix + "web"}, "code_verifier": {l.verifier}}
	}
	noStore := func(t *testing.T, what string, a answer) {
		t.Helper()
		if a.header.Get("Cache-Control") != "no-store" || a.header.Get("Pragma") != "no-cache" {
			t.Errorf("%s: Cache-Control %q, Pragma %q; want no-store, no-cache", what, a.header.Get("Cache-Control"), a.header.Get("Pragma"))
		}
	}

	t.Run("code and secret in a GET", func(t *testing.T) {
		form := exchange(r.start(t))
		form.Set("client_id", app.ClientID)
		form.Set("client_secret", secret)
		a := call(t, "GET", s.issuer+"/oauth/token", form, "", "")
		if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "POST" || strings.Contains(a.body, "access_token") || !strings.Contains(a.body, `"invalid_request"`) {
			t.Errorf("GET /oauth/token: %d Allow %q %.200s; want 405, invalid_request, no token", a.status, a.header.Get("Allow"), a.body)
		}
	})
	t.Run("secret in the query of a POST", func(t *testing.T) {
		u := s.issuer + "/oauth/token?" + url.Values{"client_id": {app.ClientID}, "client_secret": {secret}}.Encode()
		a := call(t, "POST", u, exchange(r.start(t)), "", "")
		if a.status != http.StatusBadRequest || strings.Contains(a.body, "access_token") || !strings.Contains(a.body, `"invalid_request"`) {
			t.Errorf("POST with the secret in the URL: %d %.200s; want 400 invalid_request, no token", a.status, a.body)
		}
	})
	for _, path := range []string{"/oauth/introspect", "/oauth/revoke"} {
		t.Run("GET "+path, func(t *testing.T) {
			a := call(t, "GET", s.issuer+path, url.Values{"token": {"x"}, "client_id": {app.ClientID}, "client_secret": {secret}}, "", "")
			if a.status != http.StatusMethodNotAllowed || !strings.Contains(a.body, `"invalid_request"`) {
				t.Errorf("GET %s: %d %.200s; want 405 invalid_request", path, a.status, a.body)
			}
		})
	}

	a := call(t, "POST", s.issuer+"/oauth/token", exchange(r.start(t)), app.ClientID, secret)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(a.body), &tok); a.status != http.StatusOK || err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v %.200s", a.status, err, a.body)
	}
	noStore(t, "the token answer", a)
	noStore(t, "introspection", call(t, "POST", s.issuer+"/oauth/introspect", url.Values{"token": {tok.AccessToken}}, app.ClientID, secret))

	userinfo := func(method, query string, form url.Values, header string) answer {
		t.Helper()
		req, _ := http.NewRequest(method, s.issuer+"/oauth/userinfo"+query, strings.NewReader(form.Encode()))
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if header != "" {
			req.Header.Set("Authorization", "Bearer "+header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header, string(b)}
	}
	for _, tc := range []struct {
		name   string
		method string
		query  string
		form   url.Values
		header string
		status int
	}{
		{"in the header", "GET", "", nil, tok.AccessToken, http.StatusOK},
		{"in the form", "POST", "", url.Values{"access_token": {tok.AccessToken}}, "", http.StatusOK},
		{"in the URL", "GET", "?access_token=" + url.QueryEscape(tok.AccessToken), nil, "", http.StatusBadRequest},
		{"in the URL of a POST", "POST", "?access_token=" + url.QueryEscape(tok.AccessToken), url.Values{}, "", http.StatusBadRequest},
		{"in the header and the form", "POST", "", url.Values{"access_token": {tok.AccessToken}}, tok.AccessToken, http.StatusBadRequest},
	} {
		t.Run("userinfo token "+tc.name, func(t *testing.T) {
			a := userinfo(tc.method, tc.query, tc.form, tc.header)
			if a.status != tc.status {
				t.Fatalf("%d %.200s; want %d", a.status, a.body, tc.status)
			}
			noStore(t, "userinfo", a)
			if tc.status == http.StatusOK {
				return
			}
			if !strings.Contains(a.body, `"invalid_request"`) || strings.Contains(a.body, "ada@") || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%.200s, WWW-Authenticate %q; want invalid_request with a Bearer challenge, no claims", a.body, a.header.Get("WWW-Authenticate"))
			}
		})
	}

	// The libraries still work: go-oidc's userinfo sends the header, and
	// x/oauth2's exchange and refresh a form.
	l := r.start(t)
	full, err := r.conf.Exchange(ctx, b.code(t, l, "", ""), oauth2.VerifierOption(l.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(full)); err != nil {
		t.Errorf("go-oidc userinfo: %v", err)
	}
	if _, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: full.RefreshToken}).Token(); err != nil {
		t.Errorf("x/oauth2 refresh: %v", err)
	}
}
