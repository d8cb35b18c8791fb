package provider_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
)

// rp is an app of the platform, written as any Go app would be: go-oidc
// for discovery and ID token verification, x/oauth2 for the code flow.
type rp struct {
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	conf     oauth2.Config
}

func newRP(t *testing.T, s *site, app directory.App, secret string) *rp {
	t.Helper()
	p, err := oidc.NewProvider(context.Background(), s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	return &rp{provider: p, verifier: p.Verifier(&oidc.Config{ClientID: app.ClientID}), conf: oauth2.Config{
		ClientID: app.ClientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: app.RedirectURIs[0],
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
	}}
}

func random(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authz is one authorization: what the app sent and what it kept.
type authz struct {
	state, nonce, verifier string
	url                    string
}

func (r *rp) start(t *testing.T, opts ...oauth2.AuthCodeOption) authz {
	l := authz{state: random(t), nonce: random(t), verifier: oauth2.GenerateVerifier()}
	l.url = r.conf.AuthCodeURL(l.state, append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(l.verifier), oidc.Nonce(l.nonce)}, opts...)...)
	return l
}

// code runs the browser through sign-in and returns the code the app got.
func (b *browser) code(t *testing.T, l authz, email, password string) string {
	t.Helper()
	p := b.get(l.url)
	if p.url.Path == "/login" {
		p = b.signIn(p, email, password)
	}
	q := p.atApp(t)
	if q.Get("state") != l.state || q.Get("code") == "" {
		t.Fatalf("the app got %v; want a code and its state", q)
	}
	return q.Get("code")
}

// appClaims is what the test app reads from the ID token and userinfo.
type appClaims struct {
	Subject       string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name"`
	GivenName     string   `json:"given_name"`
	FamilyName    string   `json:"family_name"`
	Account       account  `json:"account"`
	Role          string   `json:"role"`
	Groups        []string `json:"groups"`
	AMR           []string `json:"amr"`
}

type account struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return "not an OAuth error: " + err.Error()
}

// TestAppSignsInByPassword: a public app with PKCE signs a person in by
// password through admit's sign-in form, verifies the ID token with the
// JWKS, and reads the claims there and at userinfo; a second sign-in in
// the same browser needs no password; an ID token signed before a key
// rotation still verifies after it.
func TestAppSignsInByPassword(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		m := s.invited(a, "Ada@acme.example", "correct horse battery", directory.RoleAdmin)
		app, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{appPrefix + "cb"}, Public: true})
		r := newRP(t, s, app, "")
		b := s.browser()
		l := r.start(t)
		code := b.code(t, l, "ada@acme.example", "correct horse battery")
		tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(l.verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := r.verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("verify ID token: %v", err)
		}
		if idt.Nonce != l.nonce || idt.Subject != m.User.ID {
			t.Errorf("ID token nonce %q sub %q; want %q, the user id %q", idt.Nonce, idt.Subject, l.nonce, m.User.ID)
		}
		want := appClaims{Subject: m.User.ID, Email: "Ada@acme.example", EmailVerified: true, Name: "Ada Lovelace", GivenName: "Ada", FamilyName: "Lovelace",
			Account: account{a.ID, "acme", "Acme"}, Role: "admin", Groups: []string{}, AMR: []string{"pwd"}}
		var got appClaims
		if err := idt.Claims(&got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ID token claims (-want +got):\n%s", diff)
		}
		info, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		got = appClaims{}
		if err := info.Claims(&got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("userinfo claims (-want +got):\n%s", diff)
		}

		// The browser is signed in to admit now: no password the second time.
		l2 := r.start(t)
		p := b.get(l2.url)
		if q := p.atApp(t); q.Get("code") == "" || q.Get("state") != l2.state {
			t.Fatalf("second sign-in: %v", q)
		}

		// Rotating the signing key (both steps) keeps the older token
		// verifiable, by a fresh app that fetches the JWKS anew.
		for range 2 {
			if _, err := s.keys.RS256.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		fresh := newRP(t, s, app, "")
		if _, err := fresh.verifier.Verify(ctx, raw); err != nil {
			t.Errorf("an ID token signed before the rotation: %v", err)
		}
		l3 := r.start(t)
		tok2, err := r.conf.Exchange(ctx, b.code(t, l3, "", ""), oauth2.VerifierOption(l3.verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt2, err := r.verifier.Verify(ctx, tok2.Extra("id_token").(string))
		if err != nil {
			t.Fatalf("an ID token signed with the new key, by the app that cached the old JWKS: %v", err)
		}
		if _, err := fresh.verifier.Verify(ctx, raw); err != nil || idt2.Subject != m.User.ID {
			t.Errorf("after signing with the new key: %v, sub %q", err, idt2.Subject)
		}
	})
}

// TestRefusals: each mistake or attack gets its RFC 6749 error, and a
// redirect URI that is not registered exactly is never redirected to.
func TestRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		public, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{appPrefix + "cb"}, Public: true})
		web, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
		other, otherSecret := s.app(directory.NewApp{Name: "Other", RedirectURIs: []string{appPrefix + "web"}})
		spa, app, otherApp := newRP(t, s, public, ""), newRP(t, s, web, secret), newRP(t, s, other, otherSecret)
		b := s.browser()
		b.code(t, spa.start(t), "ada@acme.example", "correct horse battery") // signed in from here on

		t.Run("authorize errors shown as a page", func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				query url.Values
				want  string
			}{
				{"unknown client", url.Values{"client_id": {"admit_app_nope"}, "redirect_uri": {appPrefix + "cb"}}, "client"},
				{"redirect URI with a longer path", url.Values{"client_id": {public.ClientID}, "redirect_uri": {appPrefix + "cb/more"}}, "redirect_uri"},
				{"redirect URI with a query", url.Values{"client_id": {public.ClientID}, "redirect_uri": {appPrefix + "cb?x=1"}}, "redirect_uri"},
				{"redirect URI of another client", url.Values{"client_id": {public.ClientID}, "redirect_uri": {appPrefix + "web"}}, "redirect_uri"},
				{"another host", url.Values{"client_id": {public.ClientID}, "redirect_uri": {"https://evil.example/cb"}}, "redirect_uri"},
				// Another port of http://127.0.0.1 is the app's (RFC 8252
				// section 7.3: a native app's port varies; see
				// TestLoopbackRedirectAnyPort); another name of the machine is
				// not.
				{"another loopback name", url.Values{"client_id": {public.ClientID}, "redirect_uri": {"http://localhost:9/cb"}}, "redirect_uri"},
				{"another loopback port, another path", url.Values{"client_id": {public.ClientID}, "redirect_uri": {"http://127.0.0.1:8765/web"}}, "redirect_uri"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					q := tc.query
					q.Set("response_type", "code")
					q.Set("scope", "openid")
					q.Set("state", "s")
					q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
					q.Set("code_challenge_method", "S256")
					resp, err := b.client.Get(s.issuer + "/oauth/authorize?" + q.Encode())
					if err != nil {
						t.Fatal(err)
					}
					p := b.read(resp, nil)
					if p.status != http.StatusBadRequest || resp.Header.Get("Location") != "" || strings.HasPrefix(p.url.String(), appPrefix) ||
						!strings.Contains(p.body, tc.want) || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
						t.Errorf("got %d at %s (%s):\n%.400s", p.status, p.url, resp.Header.Get("Content-Type"), p.body)
					}
				})
			}
		})

		t.Run("PKCE missing for a public client", func(t *testing.T) {
			u := spa.conf.AuthCodeURL("st")
			q := b.get(u).atApp(t)
			if q.Get("error") != "invalid_request" || q.Get("state") != "st" || q.Get("code") != "" {
				t.Errorf("the app got %v; want invalid_request", q)
			}
		})
		// RFC 6749 section 3.1: parameters "MUST NOT be included more than
		// once"; op read the first, where a proxy may read the other.
		t.Run("repeated parameter", func(t *testing.T) {
			for _, extra := range []string{"&scope=openid+email", "&state=other", "&prompt=login&prompt=none"} {
				q := b.get(spa.start(t).url + extra).atApp(t)
				if q.Get("error") != "invalid_request" || q.Get("code") != "" || !strings.Contains(q.Get("error_description"), "more than once") {
					t.Errorf("with %s: the app got %v; want invalid_request", extra, q)
				}
			}
		})
		t.Run("plain PKCE", func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			q := b.get(spa.conf.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", v), oauth2.SetAuthURLParam("code_challenge_method", "plain"))).atApp(t)
			if q.Get("error") != "invalid_request" || q.Get("code") != "" {
				t.Errorf("the app got %v; want invalid_request", q)
			}
		})

		// RFC 7636 section 4.2: an S256 challenge is the base64url SHA-256
		// of the verifier, 43 characters; anything else was not made by
		// the method it names.
		t.Run("challenge not of S256's form", func(t *testing.T) {
			for _, c := range []string{"abc", strings.Repeat("a", 42), strings.Repeat("a", 44), strings.Repeat("a", 42) + "=",
				strings.Repeat("a", 42) + "+", strings.Repeat("0", 64)} {
				q := b.get(spa.conf.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", c), oauth2.SetAuthURLParam("code_challenge_method", "S256"))).atApp(t)
				if q.Get("error") != "invalid_request" || q.Get("code") != "" || !strings.Contains(q.Get("error_description"), "43") {
					t.Errorf("challenge %q: the app got %v; want invalid_request", c, q)
				}
			}
		})
		// RFC 7636 section 4.1: a verifier is 43 to 128 characters of
		// A-Z a-z 0-9 - . _ ~. A shorter one that matches its challenge is
		// still refused: the challenge travels in the browser's URL, and a
		// verifier of a few characters is found from it by trying them all.
		t.Run("verifier of the wrong form", func(t *testing.T) {
			for _, v := range []string{"a", strings.Repeat("a", 42), strings.Repeat("a", 129), strings.Repeat("a", 42) + " ", strings.Repeat("a", 42) + "/", strings.Repeat("é", 43)} {
				l := authz{state: random(t), nonce: random(t), verifier: v}
				l.url = spa.conf.AuthCodeURL(l.state, oauth2.S256ChallengeOption(v), oidc.Nonce(l.nonce))
				_, err := spa.conf.Exchange(ctx, b.code(t, l, "", ""), oauth2.VerifierOption(v))
				if oauthError(err) != "invalid_request" || !strings.Contains(err.Error(), "43 to 128") {
					t.Errorf("exchange with the verifier %q: %v; want invalid_request naming the form", v, err)
				}
			}
			for _, v := range []string{strings.Repeat("a", 43), strings.Repeat("Az09-._~", 16)} {
				l := authz{state: random(t), nonce: random(t), verifier: v}
				l.url = spa.conf.AuthCodeURL(l.state, oauth2.S256ChallengeOption(v), oidc.Nonce(l.nonce))
				if _, err := spa.conf.Exchange(ctx, b.code(t, l, "", ""), oauth2.VerifierOption(v)); err != nil {
					t.Errorf("exchange with the verifier %q: %v", v, err)
				}
			}
		})
		t.Run("wrong verifier", func(t *testing.T) {
			l := spa.start(t)
			_, err := spa.conf.Exchange(ctx, b.code(t, l, "", ""), oauth2.VerifierOption(oauth2.GenerateVerifier()))
			if oauthError(err) != "invalid_grant" {
				t.Errorf("exchange with a wrong verifier: %v; want invalid_grant", err)
			}
		})
		t.Run("verifier missing", func(t *testing.T) {
			_, err := spa.conf.Exchange(ctx, b.code(t, spa.start(t), "", ""))
			if code := oauthError(err); code != "invalid_grant" && code != "invalid_request" {
				t.Errorf("exchange without the verifier: %v; want invalid_grant", err)
			}
		})
		t.Run("code reused", func(t *testing.T) {
			l := spa.start(t)
			code := b.code(t, l, "", "")
			tok, err := spa.conf.Exchange(ctx, code, oauth2.VerifierOption(l.verifier))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := spa.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
				t.Fatalf("userinfo before the replay: %v", err)
			}
			if _, err := spa.conf.Exchange(ctx, code, oauth2.VerifierOption(l.verifier)); oauthError(err) != "invalid_grant" {
				t.Errorf("second exchange: %v; want invalid_grant", err)
			}
			// RFC 6749 section 4.1.2: the tokens issued from the code end.
			if _, err := spa.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
				t.Error("the access token of a replayed code still works")
			}
			if acts := auditOf(t, s, a.ID); !strings.Contains(acts, "app.code_reused") {
				t.Errorf("audit: %s", acts)
			}
		})
		t.Run("code exchanged in parallel", func(t *testing.T) {
			l := spa.start(t)
			code := b.code(t, l, "", "")
			var wg sync.WaitGroup
			var mu sync.Mutex
			var won []*oauth2.Token
			for range 8 {
				wg.Go(func() {
					if tok, err := spa.conf.Exchange(ctx, code, oauth2.VerifierOption(l.verifier)); err == nil {
						mu.Lock()
						won = append(won, tok)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			// One exchange at most gets tokens, and the others presenting
			// the code too end them (RFC 6749 section 4.1.2): whichever
			// committed first, none works afterwards. (On PostgreSQL a
			// replay often comes while the first is still storing them,
			// and it stores none.)
			if len(won) > 1 {
				t.Errorf("%d of 8 parallel exchanges of one code got tokens; want 1 at most", len(won))
			}
			for _, tok := range won {
				if _, err := spa.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
					t.Error("the access token of a code presented 8 times works")
				}
			}
		})
		t.Run("code of another client", func(t *testing.T) {
			l := app.start(t)
			code := b.code(t, l, "", "")
			if _, err := otherApp.conf.Exchange(ctx, code, oauth2.VerifierOption(l.verifier)); oauthError(err) != "invalid_grant" {
				t.Errorf("another client's exchange: %v; want invalid_grant", err)
			}
		})
		t.Run("expired code", func(t *testing.T) {
			l := spa.start(t)
			code := b.code(t, l, "", "")
			s.clock.Add(directory.AppCodeTTL + time.Second)
			if _, err := spa.conf.Exchange(ctx, code, oauth2.VerifierOption(l.verifier)); oauthError(err) != "invalid_grant" {
				t.Errorf("exchange after expiry: %v; want invalid_grant", err)
			}
		})
		t.Run("client authentication", func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				id     string
				secret string
				style  oauth2.AuthStyle
				want   string
			}{
				{"client_secret_basic", web.ClientID, secret, oauth2.AuthStyleInHeader, ""},
				{"client_secret_post", web.ClientID, secret, oauth2.AuthStyleInParams, ""},
				{"wrong secret", web.ClientID, otherSecret, oauth2.AuthStyleInHeader, "invalid_client"},
				{"no secret", web.ClientID, "", oauth2.AuthStyleInParams, "invalid_client"},
				{"unknown client", "admit_app_nope", secret, oauth2.AuthStyleInHeader, "invalid_client"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					l := app.start(t)
					code := b.code(t, l, "", "")
					conf := app.conf
					conf.ClientID, conf.ClientSecret, conf.Endpoint.AuthStyle = tc.id, tc.secret, tc.style
					_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(l.verifier))
					if tc.want == "" && err != nil || tc.want != "" && oauthError(err) != tc.want {
						t.Errorf("exchange: %v; want %q", err, tc.want)
					}
				})
			}
		})
	})
}

// TestAccountOfTheApp: an app bound to one account signs in only its
// members, in that account, whatever account the browser's session is in;
// a deactivated membership gets access_denied, and its tokens stop
// yielding claims.
func TestAccountOfTheApp(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		acme, globex, initech := s.account("acme"), s.account("globex"), s.account("initech")
		s.invited(acme, "ada@acme.example", "correct horse battery", directory.RoleMember)
		if _, err := s.dir.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "Lovelace", Role: directory.RoleOwner}); err != nil {
			t.Fatal(err)
		}
		forGlobex, gs := s.app(directory.NewApp{Name: "Globex wiki", RedirectURIs: []string{appPrefix + "g"}, AccountID: globex.ID})
		forInitech, is := s.app(directory.NewApp{Name: "Initech wiki", RedirectURIs: []string{appPrefix + "i"}, AccountID: initech.ID})
		g, i := newRP(t, s, forGlobex, gs), newRP(t, s, forInitech, is)
		b := s.browser()

		// Signed in to acme, the person's choice among their accounts.
		l := g.start(t)
		p := b.signIn(b.get(l.url), "ada@acme.example", "correct horse battery")
		q := b.choose(p, acme.ID).atApp(t)
		tok, err := g.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(l.verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := g.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c appClaims
		_ = idt.Claims(&c)
		if c.Account.Slug != "globex" || c.Role != "owner" {
			t.Errorf("the Globex app got account %q role %q; want globex, owner", c.Account.Slug, c.Role)
		}

		q = b.get(i.start(t).url).atApp(t)
		if q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Errorf("a non-member at the Initech app: %v; want access_denied", q)
		}

		// Another owner first: admit keeps an account's last active owner.
		if _, err := s.dir.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "bob@globex.example", FirstName: "Bob", LastName: "Bell", Role: directory.RoleOwner}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.dir.Deactivate(ctx, globex.ID, operator, "ada@acme.example"); err != nil {
			t.Fatal(err)
		}
		q = b.get(g.start(t).url).atApp(t)
		if q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Errorf("a deactivated member at the Globex app: %v; want access_denied", q)
		}
		if _, err := g.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("userinfo still answers for a deactivated membership")
		}
		expired := *tok
		expired.Expiry = time.Now().Add(-time.Minute)
		if _, err := g.conf.TokenSource(ctx, &expired).Token(); oauthError(err) != "invalid_grant" {
			t.Errorf("refresh for a deactivated membership: %v; want invalid_grant", err)
		}
	})
}

// TestRefreshTokenRotation: each refresh gives a new refresh token; the
// old one presented again after the app's reuse interval revokes the
// whole family, the newest included.
func TestRefreshTokenRotation(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
		r := newRP(t, s, app, secret)
		b := s.browser()
		l := r.start(t)
		first, err := r.conf.Exchange(ctx, b.code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
		if err != nil {
			t.Fatal(err)
		}
		if first.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		refresh := func(rt string) (*oauth2.Token, error) {
			return r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}).Token()
		}
		second, err := refresh(first.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
			t.Fatalf("refresh did not rotate: %+v", second)
		}
		if _, err := r.verifier.Verify(ctx, second.Extra("id_token").(string)); err != nil {
			t.Errorf("ID token of the refresh: %v", err)
		}
		s.clock.Add(directory.DefaultRefreshReuseInterval + time.Second)
		if _, err := refresh(first.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("reusing the rotated refresh token: %v; want invalid_grant", err)
		}
		if _, err := refresh(second.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("the newest refresh token after a reuse: %v; want invalid_grant (the family is revoked)", err)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(second)); err == nil {
			t.Error("the family's access token still works after a reuse")
		}
		if acts := auditOf(t, s, a.ID); !strings.Contains(acts, "app.refresh_token_reused") {
			t.Errorf("audit: %s", acts)
		}
	})
}

func auditOf(t *testing.T, s *site, accountID string) string {
	t.Helper()
	events, err := s.dir.AuditEvents(context.Background(), accountID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range events {
		acts = append(acts, e.Action)
	}
	return strings.Join(acts, " ")
}

// TestEndSession: RP-initiated logout goes back only to a registered
// post_logout_redirect_uri, ends the app's tokens, and signs the browser
// out of admit when the id_token_hint names its person.
func TestEndSession(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		r, b, tok := signedInToPublicApp(t, s, "SPA")
		var endpoints struct {
			EndSession string `json:"end_session_endpoint"`
		}
		if err := r.provider.Claims(&endpoints); err != nil || endpoints.EndSession != s.issuer+"/oauth/end_session" {
			t.Fatalf("end_session_endpoint %q, %v", endpoints.EndSession, err)
		}
		hint := tok.Extra("id_token").(string)
		bad := b.get(endpoints.EndSession + "?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
		if bad.status != http.StatusBadRequest || strings.HasPrefix(bad.url.String(), "https://evil.example") {
			t.Errorf("an unregistered post_logout_redirect_uri: %d %s", bad.status, bad.url)
		}
		p := b.get(endpoints.EndSession + "?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {appPrefix + "bye"}, "state": {"x"}}.Encode())
		if q := p.atApp(t); p.url.Path != "/bye" || q.Get("state") != "x" {
			t.Errorf("logout landed on %s", p.url)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("the app's access token works after logout")
		}
		if p := b.get(r.start(t).url); p.url.Path != "/login" {
			t.Errorf("after logout the next sign-in went to %s; want the sign-in page", p.url)
		}
	})
}

// TestEndSessionLoopbackPort: a post_logout_redirect_uri is matched by
// the rule of redirect URIs (directory.App.AllowsRedirectURI): exactly,
// but for the port of one registered on http at 127.0.0.1 or [::1], which
// may be any (RFC 8252 section 7.3), for a native app that listens for the
// end of its sign-out on the port the operating system gave it, as it
// does for its code. Nothing else may differ (host, scheme, path, query,
// user info), and a localhost or https URI is matched exactly; a refused
// URI is never redirected to. (op matches a web app's exactly, and a
// native app's on any loopback host, localhost and https included.)
func TestEndSessionLoopbackPort(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		_, b, _ := signedInToPublicApp(t, s, "SPA")
		app, _ := s.app(directory.NewApp{Name: "CLI", RedirectURIs: []string{appPrefix + "cb"}, Public: true,
			PostLogoutRedirectURIs: []string{"http://127.0.0.1:9/bye", "http://[::1]/bye", "http://localhost:9/bye", "https://app.example/bye"}})
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, tc := range []struct {
			name, uri string
			ok        bool
		}{
			{"as registered", "http://127.0.0.1:9/bye", true},
			{"another port", "http://127.0.0.1:8765/bye", true},
			{"no port", "http://127.0.0.1/bye", true},
			{"IPv6, as registered", "http://[::1]/bye", true},
			{"IPv6, a port", "http://[::1]:50123/bye", true},
			{"another path", "http://127.0.0.1:8765/other", false},
			{"a longer path", "http://127.0.0.1:8765/bye/more", false},
			{"a query", "http://127.0.0.1:8765/bye?x=1", false},
			{"https", "https://127.0.0.1:8765/bye", false},
			{"another loopback address", "http://127.0.0.2:9/bye", false},
			{"IPv6 for the IPv4 registration's path, another spelling", "http://[0:0:0:0:0:0:0:1]:9/bye", false},
			{"user info", "http://ada@127.0.0.1:8765/bye", false},
			{"an address after user info", "http://127.0.0.1:8765@evil.example/bye", false},
			{"an empty port", "http://127.0.0.1:/bye", false},
			{"localhost as registered", "http://localhost:9/bye", true},
			{"localhost, another port", "http://localhost:8765/bye", false},
			{"https as registered", "https://app.example/bye", true},
			{"https, another port", "https://app.example:8443/bye", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := noFollow.Get(s.issuer + "/oauth/end_session?" + url.Values{"client_id": {app.ClientID}, "post_logout_redirect_uri": {tc.uri}, "state": {"s"}}.Encode())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				loc := resp.Header.Get("Location")
				if tc.ok && (resp.StatusCode != http.StatusFound || loc != tc.uri+"?state=s") || !tc.ok && (resp.StatusCode != http.StatusBadRequest || loc != "") {
					t.Errorf("post_logout_redirect_uri %s: %d Location %q; want ok %v (else 400, no redirect)", tc.uri, resp.StatusCode, loc, tc.ok)
				}
			})
		}

		// The person asked first (no hint): the form goes on to the port,
		// which the page's CSP lets it reach, and the confirmation is held
		// to the same rule.
		t.Run("confirmed", func(t *testing.T) {
			p := b.get(s.issuer + "/oauth/end_session?" + url.Values{"client_id": {app.ClientID}, "post_logout_redirect_uri": {"http://127.0.0.1:8765/bye"}}.Encode())
			if p.status != http.StatusOK || !strings.Contains(p.header.Get("Content-Security-Policy"), "http://127.0.0.1:8765") {
				t.Fatalf("%d, CSP %q\n%.600s", p.status, p.header.Get("Content-Security-Policy"), p.body)
			}
			form := url.Values{}
			for _, f := range []string{"csrf_token", "client_id", "post_logout_redirect_uri"} {
				m := hiddenField(f).FindStringSubmatch(p.body)
				if m == nil {
					t.Fatalf("the confirmation form has no %s", f)
				}
				form.Set(f, html.UnescapeString(m[1]))
			}
			confirm := &http.Client{Jar: b.client.Jar, CheckRedirect: noFollow.CheckRedirect}
			resp, err := confirm.PostForm(s.issuer+"/oauth/end_session/confirm", form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "http://127.0.0.1:8765/bye" {
				t.Errorf("confirmed: %d Location %q", resp.StatusCode, loc)
			}
		})
	})
}

// TestCodeGoesOnlyToTheBrowserThatSignedIn: an attacker starts an
// authorization with their own PKCE verifier and lures a signed-in person
// to its sign-in step. The code goes back to the app in the person's
// browser only; op's callback, which would hand the code of a finished
// authorization to anyone who knows its id, is not served.
func TestCodeGoesOnlyToTheBrowserThatSignedIn(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		a := s.account("acme")
		s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		app, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{appPrefix + "cb"}, Public: true})
		r := newRP(t, s, app, "")
		victim, attacker := s.browser(), s.browser()
		victim.code(t, r.start(t), "ada@acme.example", "correct horse battery")

		attacker.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := attacker.client.Get(r.start(t).url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		lure := resp.Header.Get("Location")
		if !strings.HasPrefix(lure, "/oauth/authorize/continue?id=") {
			t.Fatalf("authorize sent the browser to %q", lure)
		}
		victim.get(s.issuer + lure).atApp(t)
		id := strings.TrimPrefix(lure, "/oauth/authorize/continue?id=")
		resp, err = attacker.client.Get(s.issuer + "/oauth/authorize/callback?id=" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); strings.Contains(loc, "code=") || resp.StatusCode != http.StatusNotFound {
			t.Errorf("the callback answered %d, Location %q; want 404 and no code", resp.StatusCode, loc)
		}
		resp, err = attacker.client.Get(s.issuer + lure)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/login?") {
			t.Errorf("the attacker's own browser at the sign-in step was sent to %q; want the sign-in page", loc)
		}
	})
}

// TestAnonymousRequestsWriteNothing: authorization requests from browsers
// nobody signed in to write no rows (DESIGN rule 12): the request travels
// sealed in the sign-in URL, and a sign-in URL that was altered or made up
// is refused.
func TestAnonymousRequestsWriteNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		s.account("acme")
		app, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{appPrefix + "cb"}, Public: true})
		r := newRP(t, s, app, "")
		b := s.browser()
		var continueURL string
		for range 50 {
			p := b.get(r.start(t).url)
			if p.url.Path != "/login" {
				t.Fatalf("landed on %s", p.url)
			}
			continueURL = p.url.Query().Get("return_to")
		}
		var rows int
		if err := s.store.DB().Get(&rows, `SELECT COUNT(*) FROM app_authorizations`); err != nil || rows != 0 {
			t.Errorf("%d authorization rows after 50 anonymous requests (%v); want 0", rows, err)
		}
		u, _ := url.Parse(continueURL)
		id := u.Query().Get("id")
		for name, bad := range map[string]string{
			"altered":  id[:len(id)-2] + "AA",
			"made up":  "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			"no id":    "",
			"not ours": "https://evil.example/",
		} {
			p := b.get(s.issuer + "/oauth/authorize/continue?id=" + url.QueryEscape(bad))
			if p.status != http.StatusNotFound || !strings.Contains(p.body, "sign-in request is unknown") {
				t.Errorf("%s: %d %s", name, p.status, p.url)
			}
		}
		// prompt=none without a session: login_required, no page.
		if q := b.get(r.start(t, oauth2.SetAuthURLParam("prompt", "none")).url).atApp(t); q.Get("error") != "login_required" {
			t.Errorf("prompt=none signed out: %v; want login_required", q)
		}
		// A request the person takes too long to sign in to has expired.
		s.invited(s.account("globex"), "ada@globex.example", "correct horse battery", directory.RoleMember)
		p := b.get(r.start(t).url)
		s.clock.Add(directory.AppAuthorizationTTL + time.Second)
		p = b.signIn(p, "ada@globex.example", "correct horse battery")
		if p.status != http.StatusNotFound || !strings.Contains(p.body, "has expired") {
			t.Errorf("sign-in after the request expired: %d %s", p.status, p.url)
		}
	})
}

// TestSignInFormAllowsTheAppOnly: a browser applies the sign-in form's CSP
// form-action to the redirects after it, so the form of a sign-in for an
// app allows that app's redirect URI, and no other sign-in form does.
func TestSignInFormAllowsTheAppOnly(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		s.account("acme")
		app, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{"https://wiki.example.com:8443/cb"}, Public: true})
		r := newRP(t, s, app, "")
		b := s.browser()
		resp, err := b.client.Get(r.start(t).url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Request.URL.Path != "/login" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'self' https://wiki.example.com:8443;") {
			t.Errorf("sign-in for the app at %s: CSP %q", resp.Request.URL.Path, resp.Header.Get("Content-Security-Policy"))
		}
		resp, err = b.client.Get(s.issuer + "/login?return_to=%2Fme")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'self';") {
			t.Errorf("plain sign-in: CSP %q", resp.Header.Get("Content-Security-Policy"))
		}
	})
}

// TestRefreshWithFewerScopes: a refresh may ask for fewer scopes, for an
// access token that can do less (RFC 6749 section 6); the new refresh
// token keeps the scope of the one presented ("the refresh token scope
// MUST be identical"), so the next refresh may ask for all of it again.
func TestRefreshWithFewerScopes(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
		r := newRP(t, s, app, secret)
		b := s.browser()
		l := r.start(t)
		tok, err := r.conf.Exchange(ctx, b.code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
		if err != nil {
			t.Fatal(err)
		}
		// x/oauth2 sends no scope with a refresh: the request as RFC 6749
		// section 6 writes it.
		refresh := func(rt, scope string) (*oauth2.Token, error) {
			t.Helper()
			req, _ := http.NewRequest("POST", r.provider.Endpoint().TokenURL, strings.NewReader(url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {scope}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(app.ClientID), url.QueryEscape(secret))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
				Error        string `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				return nil, fmt.Errorf("%d %s", resp.StatusCode, body.Error)
			}
			return &oauth2.Token{AccessToken: body.AccessToken, RefreshToken: body.RefreshToken, TokenType: "Bearer"}, nil
		}
		narrow, err := refresh(tok.RefreshToken, "openid")
		if err != nil {
			t.Fatalf("refresh asking for openid only: %v", err)
		}
		info, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(narrow))
		if err != nil {
			t.Fatal(err)
		}
		if info.Email != "" {
			t.Errorf("userinfo for an access token of scope openid tells the email %q", info.Email)
		}
		if narrow.RefreshToken == "" {
			t.Fatal("no refresh token from a refresh")
		}
		full, err := refresh(narrow.RefreshToken, "openid profile email offline_access")
		if err != nil {
			t.Fatalf("refresh asking for the scope first granted, after a narrower refresh: %v", err)
		}
		if info, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(full)); err != nil || info.Email != "ada@acme.example" {
			t.Errorf("userinfo of the full scope again: %v, email %q", err, info.Email)
		}
	})
}

// TestDiscoveryMatchesBehaviour: discovery advertises what the provider
// does, so a library that picks from it picks what works: the code flow
// with the query response mode only (no implicit flow, no fragment or
// form_post), readable from a single-page app's origin.
func TestDiscoveryMatchesBehaviour(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		req, _ := http.NewRequest("GET", s.issuer+"/.well-known/openid-configuration", nil)
		req.Header.Set("Origin", "https://spa.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d struct {
			Issuer        string   `json:"issuer"`
			ResponseTypes []string `json:"response_types_supported"`
			ResponseModes []string `json:"response_modes_supported"`
			GrantTypes    []string `json:"grant_types_supported"`
			PKCE          []string `json:"code_challenge_methods_supported"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
			t.Fatal(err)
		}
		want := struct {
			Issuer        string   `json:"issuer"`
			ResponseTypes []string `json:"response_types_supported"`
			ResponseModes []string `json:"response_modes_supported"`
			GrantTypes    []string `json:"grant_types_supported"`
			PKCE          []string `json:"code_challenge_methods_supported"`
		}{s.issuer, []string{"code"}, []string{"query"}, []string{"authorization_code", "refresh_token"}, []string{"S256"}}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Errorf("discovery (-want +got):\n%s", diff)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got == "" {
			t.Error("discovery is not readable from another origin (no Access-Control-Allow-Origin)")
		}
	})
}

// signedInToPublicApp is ada@acme.example signed in, in browser b, to a
// public app named name (redirect URI .../cb, post-logout URI .../bye),
// which holds her tokens tok.
func signedInToPublicApp(t *testing.T, s *site, name string) (*rp, *browser, *oauth2.Token) {
	t.Helper()
	a := s.account("acme")
	s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
	app, _ := s.app(directory.NewApp{Name: name, RedirectURIs: []string{appPrefix + "cb"}, PostLogoutRedirectURIs: []string{appPrefix + "bye"}, Public: true})
	r := newRP(t, s, app, "")
	b := s.browser()
	l := r.start(t)
	tok, err := r.conf.Exchange(context.Background(), b.code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
	if err != nil {
		t.Fatal(err)
	}
	return r, b, tok
}
