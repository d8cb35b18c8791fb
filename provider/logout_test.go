package provider_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/provider"
)

// backchannel is an app's back-channel logout endpoint: it keeps the
// logout tokens it is sent, and answers with the statuses it is told to.
type backchannel struct {
	mu       sync.Mutex
	tokens   []string
	statuses []int
}

func (b *backchannel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "want a form post", http.StatusBadRequest)
		return
	}
	b.tokens = append(b.tokens, r.PostFormValue("logout_token"))
	status := http.StatusOK
	if len(b.statuses) > 0 {
		status, b.statuses = b.statuses[0], b.statuses[1:]
	}
	w.WriteHeader(status)
}

func (b *backchannel) received() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.tokens...)
}

// TestBackchannelLogout: when SCIM deactivates a person, every app they
// signed in to with a back-channel logout URI gets a logout token (a
// failed delivery is tried again), their tokens stop at once, and an app
// without such a URI, or one they never signed in to, hears nothing.
func TestBackchannelLogout(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		m := s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		rpEnd := &backchannel{statuses: []int{http.StatusServiceUnavailable}}
		other := &backchannel{}
		rpSrv, otherSrv := httptest.NewServer(rpEnd), httptest.NewServer(other)
		t.Cleanup(rpSrv.Close)
		t.Cleanup(otherSrv.Close)
		app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}, BackchannelLogoutURI: rpSrv.URL + "/backchannel"})
		silent, _ := s.app(directory.NewApp{Name: "Silent", RedirectURIs: []string{appPrefix + "cb"}, Public: true})
		s.app(directory.NewApp{Name: "Unused", RedirectURIs: []string{appPrefix + "x"}, BackchannelLogoutURI: otherSrv.URL + "/backchannel"})
		r, quiet := newRP(t, s, app, secret), newRP(t, s, silent, "")
		var discovery struct {
			Supported bool `json:"backchannel_logout_supported"`
		}
		if err := r.provider.Claims(&discovery); err != nil || !discovery.Supported {
			t.Errorf("discovery backchannel_logout_supported = %v, %v", discovery.Supported, err)
		}
		b := s.browser()
		l := r.start(t)
		tok, err := r.conf.Exchange(ctx, b.code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
		if err != nil {
			t.Fatal(err)
		}
		lq := quiet.start(t)
		if _, err := quiet.conf.Exchange(ctx, b.code(t, lq, "", ""), oauth2.VerifierOption(lq.verifier)); err != nil {
			t.Fatal(err)
		}

		allow, err := fetch.ParseAllow("127.0.0.1/32")
		if err != nil {
			t.Fatal(err)
		}
		n := provider.NewNotifier(provider.NotifierConfig{Directory: s.dir, Keys: s.keys, Fetch: fetch.New(fetch.Config{Allow: allow}), Issuer: s.issuer, Now: s.clock.Now})
		if sent, err := n.Deliver(ctx); err != nil || sent != 0 {
			t.Fatalf("before any deactivation: %d sent, %v", sent, err)
		}
		_, scimToken, err := s.dir.CreateSCIMToken(ctx, a.ID, operator, "Okta")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.dir.ReplaceSCIMUser(ctx, a.ID, scimToken, m.Membership.ID, directory.SCIMUserInput{
			Profile: directory.SCIMProfile{UserName: "ada@acme.example"}, Email: "ada@acme.example", Active: false}, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("the access token works after the deactivation")
		}
		// The app answers 503 the first time: the logout is tried again
		// after a while, not lost.
		if sent, err := n.Deliver(ctx); err != nil || sent != 0 || len(rpEnd.received()) != 1 {
			t.Fatalf("first round: %d sent, %v, %d received", sent, err, len(rpEnd.received()))
		}
		if sent, _ := n.Deliver(ctx); sent != 0 {
			t.Errorf("a failed logout was sent again at once")
		}
		s.clock.Add(10 * time.Second)
		if sent, err := n.Deliver(ctx); err != nil || sent != 1 {
			t.Fatalf("retry: %d sent, %v", sent, err)
		}
		got := rpEnd.received()
		if len(got) != 2 || len(other.received()) != 0 {
			t.Fatalf("the app got %d logout tokens, the unused app %d; want 2 and 0", len(got), len(other.received()))
		}
		claims := logoutClaims(t, s, got[1])
		// The retry is a token of its own (section 2.4), which an app that
		// refuses a jti it has seen takes
		// (TestBackchannelLogoutRetryAfterALostAnswer).
		if first := logoutClaims(t, s, got[0]); first["jti"] == claims["jti"] || claims["iat"] != float64(s.clock.Now().Unix()) {
			t.Errorf("the retry's jti %v and iat %v; want a new jti (the first was %v) and the retry's time %d", claims["jti"], claims["iat"], first["jti"], s.clock.Now().Unix())
		}
		events, _ := claims["events"].(map[string]any)
		if claims["iss"] != s.issuer || claims["aud"] != app.ClientID || claims["sub"] != m.User.ID || claims["iat"] == nil ||
			claims["jti"] == nil || claims["nonce"] != nil || events["http://schemas.openid.net/event/backchannel-logout"] == nil {
			t.Errorf("logout token claims %v", claims)
		}
		if sent, _ := n.Deliver(ctx); sent != 0 {
			t.Errorf("a delivered logout was sent again")
		}
	})
}

// logoutClaims checks what an app checks of a logout token (section 2.6:
// signed with a key of the JWKS, typ logout+jwt) and returns its claims.
func logoutClaims(t *testing.T, s *site, token string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType]; typ != "logout+jwt" {
		t.Errorf("typ %v; want logout+jwt", typ)
	}
	jwks, err := s.keys.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keys := jwks.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("the logout token's key %q is not in the JWKS", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestBackchannelLogoutNamesEachSession: a person signed in to an app from
// three browsers holds three sessions there, and each session's ID tokens
// carry a sid of its own (the same after a refresh). When an admin ends
// the person's sessions, the app gets a logout token for each, naming its
// sid beside the sub: an app that keeps its sessions by sid ends each one.
// With the sub alone, mod_auth_openidc ended only the latest session of
// the person, and the other browsers stayed signed in to the app. A
// session signed out at end_session with its ID token as hint is told
// too: anyone holding that ID token (from a log, a browser's history) can
// send that request, and it must not spare the app's session the logout.
func TestBackchannelLogoutNamesEachSession(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		m := s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		rpEnd := &backchannel{}
		srv := httptest.NewServer(rpEnd)
		t.Cleanup(srv.Close)
		app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}, PostLogoutRedirectURIs: []string{appPrefix + "bye"},
			BackchannelLogoutURI: srv.URL + "/backchannel"})
		r := newRP(t, s, app, secret)
		var discovery struct {
			Supported bool `json:"backchannel_logout_session_supported"`
		}
		if err := r.provider.Claims(&discovery); err != nil || !discovery.Supported {
			t.Errorf("discovery backchannel_logout_session_supported = %v, %v", discovery.Supported, err)
		}
		sidOf := func(tok *oauth2.Token) string {
			t.Helper()
			raw, _ := tok.Extra("id_token").(string)
			idt, err := r.verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				SID string `json:"sid"`
			}
			if err := idt.Claims(&c); err != nil {
				t.Fatal(err)
			}
			return c.SID
		}
		var sids []string
		var tokens []*oauth2.Token
		for range 3 {
			l := r.start(t)
			tok, err := r.conf.Exchange(ctx, s.browser().code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, tok)
			sids = append(sids, sidOf(tok))
			// A moment later (the same second, likely): a session of its own.
			s.clock.Add(time.Millisecond)
		}
		if sids[0] == "" || sids[1] == "" || sids[2] == "" || sids[0] == sids[1] || sids[1] == sids[2] || sids[0] == sids[2] {
			t.Fatalf("the three sessions' ID tokens have sids %q; want one of each", sids)
		}
		refreshed, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tokens[0].RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
		if err != nil {
			t.Fatal(err)
		}
		if got := sidOf(refreshed); got != sids[0] {
			t.Errorf("the refreshed ID token has sid %q; want its session's %q", got, sids[0])
		}

		// The third session's ID token, sent to end_session (by the app,
		// or by whoever took it from a log).
		bye := s.issuer + "/oauth/end_session?" + url.Values{"id_token_hint": {tokens[2].Extra("id_token").(string)},
			"post_logout_redirect_uri": {appPrefix + "bye"}}.Encode()
		if p := s.browser().get(bye); p.url.Path != "/bye" {
			t.Fatalf("the sign-out landed on %s; want the app's /bye", p.url)
		}
		if _, err := s.dir.EndSessions(ctx, a.ID, operator, "ada@acme.example"); err != nil {
			t.Fatal(err)
		}
		allow, err := fetch.ParseAllow("127.0.0.1/32")
		if err != nil {
			t.Fatal(err)
		}
		n := provider.NewNotifier(provider.NotifierConfig{Directory: s.dir, Keys: s.keys, Fetch: fetch.New(fetch.Config{Allow: allow}), Issuer: s.issuer})
		if sent, err := n.Deliver(ctx); err != nil || sent != 3 {
			t.Fatalf("%d logouts sent, %v; want one for each session", sent, err)
		}
		var named []string
		for _, tok := range rpEnd.received() {
			claims := logoutClaims(t, s, tok)
			if claims["sub"] != m.User.ID || claims["aud"] != app.ClientID {
				t.Errorf("logout token claims %v", claims)
			}
			sid, _ := claims["sid"].(string)
			named = append(named, sid)
		}
		slices.Sort(named)
		slices.Sort(sids)
		if !slices.Equal(named, sids) {
			t.Errorf("the logout tokens name the sessions %q; want the ID tokens' %q", named, sids)
		}
	})
}

// TestConfirmedSignOutEndsItsOwnSession: a person signed in to an app from
// two browsers signs out of one through end_session without a hint (the
// confirmation page). That browser's sign-in ends; the other's tokens
// still work, and when the membership ends later, the app is still told
// of the other browser's session. Before, the confirmation forgot every
// sign-in of the person at the app, in every account, and ended all
// their tokens there: one sign-out on a laptop (or a departing person's
// own click) spared the phone's session at the app the back-channel
// logout an admin's deactivation sends.
func TestConfirmedSignOutEndsItsOwnSession(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		m := s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		rpEnd := &backchannel{}
		srv := httptest.NewServer(rpEnd)
		t.Cleanup(srv.Close)
		app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}, PostLogoutRedirectURIs: []string{appPrefix + "bye"},
			BackchannelLogoutURI: srv.URL + "/backchannel"})
		r := newRP(t, s, app, secret)
		var browsers []*browser
		var tokens []*oauth2.Token
		for range 2 {
			b, l := s.browser(), r.start(t)
			tok, err := r.conf.Exchange(ctx, b.code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
			if err != nil {
				t.Fatal(err)
			}
			browsers, tokens = append(browsers, b), append(tokens, tok)
			s.clock.Add(2 * time.Second)
		}

		// The laptop signs out of the app, confirming on admit's page.
		laptop := browsers[0]
		p := laptop.get(s.issuer + "/oauth/end_session?" + url.Values{"client_id": {app.ClientID}, "post_logout_redirect_uri": {appPrefix + "bye"}}.Encode())
		form := url.Values{}
		for _, f := range []string{"csrf_token", "client_id", "post_logout_redirect_uri"} {
			mm := hiddenField(f).FindStringSubmatch(p.body)
			if mm == nil {
				t.Fatalf("the confirmation form has no %s:\n%.800s", f, p.body)
			}
			form.Set(f, html.UnescapeString(mm[1]))
		}
		if done := laptop.read(laptop.client.PostForm(s.issuer+"/oauth/end_session/confirm", form)); done.url.Path != "/bye" {
			t.Fatalf("the confirmed sign-out landed on %s", done.url)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tokens[0])); err == nil {
			t.Error("the laptop's token works after its confirmed sign-out")
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tokens[1])); err != nil {
			t.Errorf("the phone's token ended with the laptop's sign-out: %v", err)
		}

		if _, err := s.dir.EndSessions(ctx, a.ID, operator, "ada@acme.example"); err != nil {
			t.Fatal(err)
		}
		allow, err := fetch.ParseAllow("127.0.0.1/32")
		if err != nil {
			t.Fatal(err)
		}
		n := provider.NewNotifier(provider.NotifierConfig{Directory: s.dir, Keys: s.keys, Fetch: fetch.New(fetch.Config{Allow: allow}), Issuer: s.issuer})
		if _, err := n.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
		raw, _ := tokens[1].Extra("id_token").(string)
		idt, err := r.verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		var phone struct {
			SID string `json:"sid"`
		}
		if err := idt.Claims(&phone); err != nil || phone.SID == "" {
			t.Fatalf("the phone's ID token has no sid: %v", err)
		}
		var named []any
		for _, tok := range rpEnd.received() {
			c := logoutClaims(t, s, tok)
			if c["sub"] != m.User.ID {
				t.Errorf("a logout token for %v", c["sub"])
			}
			named = append(named, c["sid"])
		}
		if !slices.Contains(named, any(phone.SID)) {
			t.Errorf("after the laptop's confirmed sign-out and the end of the person's sessions, the app was told of the sessions %v; want the phone's %q among them", named, phone.SID)
		}
	})
}

// TestBackchannelLogoutStaysInItsAccount: a person in two accounts signs
// in to an app that serves every account, from one browser, once in acme
// and once in globex. The two sign-ins' ID tokens carry sids of their
// own, and when globex deactivates the person, the app is told of the
// globex session only. With a sid made of the person and the admit
// session alone, the two were the same, and globex's logout named the
// session the app keeps for acme: one account's admin signed the person
// out of the app in another account.
func TestBackchannelLogoutStaysInItsAccount(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		acme, globex := s.account("acme", "acme.example"), s.account("globex")
		s.invited(acme, "ada@acme.example", "correct horse battery", directory.RoleMember)
		if _, err := s.dir.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "Lovelace", Role: directory.RoleMember}); err != nil {
			t.Fatal(err)
		}
		rpEnd := &backchannel{}
		srv := httptest.NewServer(rpEnd)
		t.Cleanup(srv.Close)
		app, secret := s.app(directory.NewApp{Name: "Wiki", RedirectURIs: []string{appPrefix + "w"}, BackchannelLogoutURI: srv.URL + "/backchannel"})
		r := newRP(t, s, app, secret)
		b := s.browser()
		sids := map[string]string{}
		// Signed in (choosing acme at sign-in, as asked), then the app asks
		// for each account by its scope.
		b.choose(b.signIn(b.get(s.issuer+"/login"), "ada@acme.example", "correct horse battery"), acme.ID)
		for _, slug := range []string{"acme", "globex"} {
			l := r.start(t, oauth2.SetAuthURLParam("scope", "openid profile email account:"+slug))
			tok, err := r.conf.Exchange(ctx, b.code(t, l, "", ""), oauth2.VerifierOption(l.verifier))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := r.verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				SID     string `json:"sid"`
				Account struct {
					Slug string `json:"slug"`
				} `json:"account"`
			}
			if err := idt.Claims(&c); err != nil || c.Account.Slug != slug || c.SID == "" {
				t.Fatalf("the %s sign-in's ID token: %+v, %v", slug, c, err)
			}
			sids[slug] = c.SID
		}
		if sids["acme"] == sids["globex"] {
			t.Errorf("the acme and globex sign-ins share the sid %q", sids["acme"])
		}

		if _, err := s.dir.Deactivate(ctx, globex.ID, operator, "ada@acme.example"); err != nil {
			t.Fatal(err)
		}
		allow, err := fetch.ParseAllow("127.0.0.1/32")
		if err != nil {
			t.Fatal(err)
		}
		n := provider.NewNotifier(provider.NotifierConfig{Directory: s.dir, Keys: s.keys, Fetch: fetch.New(fetch.Config{Allow: allow}), Issuer: s.issuer})
		if sent, err := n.Deliver(ctx); err != nil || sent != 1 {
			t.Fatalf("%d logouts sent, %v; want one, for the globex session", sent, err)
		}
		for _, tok := range rpEnd.received() {
			if c := logoutClaims(t, s, tok); c["sid"] != sids["globex"] || c["sid"] == sids["acme"] {
				t.Errorf("globex's deactivation sent a logout token naming the sid %v; want globex's %q, never acme's %q", c["sid"], sids["globex"], sids["acme"])
			}
		}
	})
}
