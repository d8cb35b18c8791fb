package provider_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
)

// TestLoopbackRedirectAnyPort: a native app registered with
// http://127.0.0.1/cb or http://[::1]/cb listens for the code on whatever
// port the operating system gives it, and admit allows any port there
// (RFC 8252 section 7.3); the code is exchanged with the redirect URI the
// authorization used, port and all. Anything else that differs from the
// registered URI (path, query, https, another host or loopback name, user
// info) is refused on a page and never redirected to, and a URI that is
// not a loopback IP literal on http is matched exactly, port included.
func TestLoopbackRedirectAnyPort(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		m := s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		native, _ := s.app(directory.NewApp{Name: "CLI", RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]:9/cb"}, Public: true})
		exact, _ := s.app(directory.NewApp{Name: "Dev", RedirectURIs: []string{"http://localhost:9/cb", "https://app.example/cb"}, Public: true})

		// The native app: a listener on an ephemeral port, which the
		// browser reaches with the code.
		got := make(chan url.Values, 1)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/cb" {
				got <- r.URL.Query()
			}
			fmt.Fprintln(w, "Signed in: you may close this window.")
		})}}
		srv.Start()
		defer srv.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		redirect := fmt.Sprintf("http://127.0.0.1:%d/cb", port)

		r := newRP(t, s, native, "")
		r.conf.RedirectURL = redirect
		b := s.browser()
		l := r.start(t)
		p := b.signIn(b.get(l.url), "ada@acme.example", "correct horse battery")
		if p.status != http.StatusOK || p.url.Host != ln.Addr().String() || p.url.Path != "/cb" {
			t.Fatalf("the browser ended at %d %s; want the app's listener at %s", p.status, p.url, redirect)
		}
		var q url.Values
		select {
		case q = <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("the app's listener got no request")
		}
		if q.Get("state") != l.state || q.Get("code") == "" {
			t.Fatalf("the app got %v; want a code and its state", q)
		}
		tok, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(l.verifier))
		if err != nil {
			t.Fatalf("exchange with the redirect URI of the authorization: %v", err)
		}
		idt, err := r.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil || idt.Subject != m.User.ID || idt.Nonce != l.nonce {
			t.Fatalf("ID token: %v", err)
		}

		// The token endpoint wants the URI the authorization used, exactly
		// (RFC 6749 section 4.1.3): the registered one, or another port,
		// is not it. Each try uses its code up, so each has its own.
		stopAtApp := &http.Client{Jar: b.client.Jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == "/cb" {
				return http.ErrUseLastResponse
			}
			return nil
		}}
		authorize := func(t *testing.T, uri string) (authz, url.Values) {
			t.Helper()
			app := *r
			app.conf.RedirectURL = uri
			l := app.start(t)
			resp, err := stopAtApp.Get(l.url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), uri+"?") {
				t.Fatalf("authorization to %s: %d Location %q", uri, resp.StatusCode, resp.Header.Get("Location"))
			}
			return l, loc.Query()
		}
		for _, tc := range []struct {
			name, at, exchange string
			ok                 bool
		}{
			{"the same port", redirect, redirect, true},
			{"another port", redirect, fmt.Sprintf("http://127.0.0.1:%d/cb", port+1), false},
			{"the registered URI", redirect, "http://127.0.0.1/cb", false},
			{"the registered URI, used as registered", "http://127.0.0.1/cb", "http://127.0.0.1/cb", true},
			{"IPv6, another port than registered", "http://[::1]:50123/cb", "http://[::1]:50123/cb", true},
			{"IPv6, no port", "http://[::1]/cb", "http://[::1]/cb", true},
			{"IPv6, the registered port at the token endpoint", "http://[::1]:50123/cb", "http://[::1]:9/cb", false},
		} {
			t.Run("exchange/"+tc.name, func(t *testing.T) {
				l, q := authorize(t, tc.at)
				if q.Get("state") != l.state || q.Get("code") == "" {
					t.Fatalf("the app got %v", q)
				}
				conf := r.conf
				conf.RedirectURL = tc.exchange
				_, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(l.verifier))
				if tc.ok && err != nil || !tc.ok && oauthError(err) != "invalid_grant" {
					t.Errorf("authorized at %s, exchanged with %s: %v; want ok %v (else invalid_grant)", tc.at, tc.exchange, err, tc.ok)
				}
			})
		}

		for _, tc := range []struct {
			name string
			app  directory.App
			uri  string
		}{
			{"another path", native, fmt.Sprintf("http://127.0.0.1:%d/other", port)},
			{"a longer path", native, redirect + "/more"},
			{"a query", native, redirect + "?x=1"},
			{"https", native, fmt.Sprintf("https://127.0.0.1:%d/cb", port)},
			{"localhost", native, fmt.Sprintf("http://localhost:%d/cb", port)},
			{"another loopback address", native, fmt.Sprintf("http://127.0.0.2:%d/cb", port)},
			{"user info", native, fmt.Sprintf("http://ada@127.0.0.1:%d/cb", port)},
			{"an address after user info", native, fmt.Sprintf("http://127.0.0.1:%d@evil.example/cb", port)},
			{"an empty port", native, "http://127.0.0.1:/cb"},
			{"IPv6 with another path", native, "http://[::1]:50123/other"},
			{"localhost registered, another port", exact, fmt.Sprintf("http://localhost:%d/cb", port)},
			{"localhost registered, no port", exact, "http://localhost/cb"},
			{"https registered, another port", exact, "https://app.example:8443/cb"},
		} {
			t.Run("refused/"+tc.name, func(t *testing.T) {
				q := url.Values{"client_id": {tc.app.ClientID}, "redirect_uri": {tc.uri}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"},
					"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
				resp, err := stopAtApp.Get(s.issuer + "/oauth/authorize?" + q.Encode())
				if err != nil {
					t.Fatal(err)
				}
				p := b.read(resp, nil)
				if p.status != http.StatusBadRequest || resp.Header.Get("Location") != "" || p.url.Path != "/oauth/authorize" ||
					!strings.Contains(p.body, "redirect_uri") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
					t.Errorf("got %d at %s (%s) Location %q:\n%.400s", p.status, p.url, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), p.body)
				}
			})
		}
	})
}
