package sso_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/sso/oidctest"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestOIDCLogins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		p := w.newProvider()
		ctx := context.Background()
		zitadel := w.connection("zitadel")

		t.Run("first login creates the user, with claims from userinfo, and lands on return_to", func(t *testing.T) {
			defer func(signedIn float64) {
				if got := w.logins("oidc", "signed_in"); got != signedIn+1 {
					t.Errorf("admit_sso_logins_total{oidc,signed_in} went from %v to %v", signedIn, got)
				}
			}(w.logins("oidc", "signed_in"))
			b := w.browser()
			before := p.UserinfoCalls()
			pg := b.get(b.oidcCallback(p, "zitadel", "bob", "/reports?week=3"))
			if pg.status != http.StatusSeeOther || pg.location != "/reports?week=3" {
				t.Fatalf("callback: %d %q %s", pg.status, pg.location, pg.body)
			}
			if got := b.me(); got != "bob@example.com acme member Bob Jones" {
				t.Errorf("signed in as %q", got)
			}
			if p.UserinfoCalls() != before+1 {
				t.Errorf("userinfo was called %d times, want once", p.UserinfoCalls()-before)
			}
			at := w.lastAttempt(zitadel)
			if at.Outcome != "signed in" || at.Reason != "created user" || at.Email != "bob@example.com" {
				t.Errorf("login log: %+v", at)
			}
		})

		t.Run("a later login updates the name, and mapped groups give the role", func(t *testing.T) {
			if _, _, err := w.svc.MapGroupToRole(ctx, w.acme.ID, operator, "admins", directory.RoleAdmin, nil); err != nil {
				t.Fatal(err)
			}
			addUser(p, "bob", "bob@example.com", "Robert", "Jones", true, "staff", "admins")
			b := w.browser()
			if pg := b.get(b.oidcCallback(p, "zitadel", "bob", "")); pg.status != http.StatusSeeOther || pg.location != "/me" {
				t.Fatalf("callback: %d %q %s", pg.status, pg.location, pg.body)
			}
			if got := b.me(); got != "bob@example.com acme admin Robert Jones" {
				t.Errorf("signed in as %q", got)
			}
			if at := w.lastAttempt(zitadel); at.Reason != "updated" {
				t.Errorf("login log: %+v", at)
			}
			addUser(p, "bob", "bob@example.com", "Robert", "Jones", true, "staff")
		})

		t.Run("an address the provider renamed follows the person, linked by the sub", func(t *testing.T) {
			before, err := w.svc.Member(ctx, w.acme.ID, "bob@example.com")
			if err != nil {
				t.Fatal(err)
			}
			addUser(p, "bob", "robert@example.com", "Robert", "Jones", true, "staff")
			b := w.browser()
			if pg := b.get(b.oidcCallback(p, "zitadel", "bob", "")); pg.status != http.StatusSeeOther {
				t.Fatalf("callback: %d %q %s", pg.status, pg.location, pg.body)
			}
			after, err := w.svc.Member(ctx, w.acme.ID, "robert@example.com")
			if err != nil || after.User.ID != before.User.ID {
				t.Errorf("robert@example.com is %+v, %v; want the person who was bob@example.com", after.User, err)
			}
			// And back, for the tests after this one.
			addUser(p, "bob", "bob@example.com", "Robert", "Jones", true, "staff")
			b = w.browser()
			if pg := b.get(b.oidcCallback(p, "zitadel", "bob", "")); pg.status != http.StatusSeeOther || b.me() != "bob@example.com acme member Robert Jones" {
				t.Fatalf("renamed back: %d %q", pg.status, b.me())
			}
		})

		t.Run("claims in the ID token need no userinfo call", func(t *testing.T) {
			addUser(p, "carol", "carol@example.com", "Carol", "White", true)
			b := w.browser()
			before := p.UserinfoCalls()
			if pg := b.get(b.oidcCallback(p, "inline", "carol", "")); pg.status != http.StatusSeeOther {
				t.Fatalf("callback: %d %s", pg.status, pg.body)
			}
			if got := b.me(); got != "carol@example.com acme member Carol White" {
				t.Errorf("signed in as %q", got)
			}
			if n := p.UserinfoCalls() - before; n != 0 {
				t.Errorf("userinfo called %d times", n)
			}
		})

		t.Run("email trust by domain signs in with the username when there is no email", func(t *testing.T) {
			addUser(p, "dan@example.com", "", "Dan", "Brown", false)
			b := w.browser()
			if pg := b.get(b.oidcCallback(p, "entra", "dan@example.com", "")); pg.status != http.StatusSeeOther {
				t.Fatalf("callback: %d %s", pg.status, pg.body)
			}
			if got := b.me(); got != "dan@example.com acme member Dan Brown" {
				t.Errorf("signed in as %q", got)
			}
			if at := w.lastAttempt(w.connection("entra")); !emailFrom.MatchString(string(at.Detail)) {
				t.Errorf("login log does not say where the email came from: %s", at.Detail)
			}
		})

		t.Run("a login started at the provider (initiate_login_uri) lands on target_link_uri", func(t *testing.T) {
			b := w.browser()
			start := b.get(w.sp.URL + "/sso/acme/oidc/zitadel/initiate?iss=" + url.QueryEscape(p.Issuer) + "&target_link_uri=" + url.QueryEscape("/projects/7"))
			if start.status != http.StatusFound || !strings.HasPrefix(start.location, p.Issuer+"/authorize?") {
				t.Fatalf("initiate: %d %s %s", start.status, start.location, start.body)
			}
			if pg := b.get(b.atProvider(p, start.location, "bob")); pg.status != http.StatusSeeOther || pg.location != "/projects/7" {
				t.Fatalf("callback: %d %q %s", pg.status, pg.location, pg.body)
			}
			if b.me() == "" {
				t.Error("not signed in")
			}
			// An external target is not followed.
			start = b.get(w.sp.URL + "/sso/acme/oidc/zitadel/initiate?iss=" + url.QueryEscape(p.Issuer) + "&target_link_uri=" + url.QueryEscape("https://evil.example/x"))
			if pg := b.get(b.atProvider(p, start.location, "bob")); pg.location != "/me" {
				t.Errorf("external target_link_uri: landed on %q", pg.location)
			}
			// The provider may also post it, from its own site.
			posted := b.post(w.sp.URL+"/sso/acme/oidc/zitadel/initiate", url.Values{"iss": {p.Issuer}, "target_link_uri": {"/posted"}, "login_hint": {"bob"}})
			if posted.status != http.StatusFound || !strings.HasPrefix(posted.location, p.Issuer+"/authorize?") || !strings.Contains(posted.location, "login_hint=bob") {
				t.Fatalf("initiate by POST: %d %s %.300s", posted.status, posted.location, posted.body)
			}
			if pg := b.get(b.atProvider(p, posted.location, "bob")); pg.location != "/posted" {
				t.Errorf("initiated by POST: landed on %q", pg.location)
			}
			// Another issuer's initiation is refused.
			if pg := w.browser().get(w.sp.URL + "/sso/acme/oidc/zitadel/initiate?iss=https://evil.example"); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "does not come from your organisation") {
				t.Errorf("foreign issuer: %d %s", pg.status, pg.body)
			}
		})

		t.Run("a replaced client secret is used at the next login; issuer and client stay", func(t *testing.T) {
			set := func(secret string) {
				if err := w.svc.SetConnectionSecret(ctx, w.acme.ID, operator, zitadel.ID, w.sealer.Seal([]byte(secret), directory.ClientSecretPurpose(w.acme.ID, "zitadel"))); err != nil {
					t.Fatal(err)
				}
			}
			set("not the secret")
			b := w.browser()
			if pg := b.get(b.oidcCallback(p, "zitadel", "bob", "")); pg.status != http.StatusBadGateway {
				t.Errorf("with a wrong secret: %d %.300s", pg.status, pg.body)
			}
			if at := w.lastAttempt(zitadel); !strings.Contains(at.Reason, "token request") {
				t.Errorf("login log: %q", at.Reason)
			}
			set(clientSecret)
			if pg := b.get(b.oidcCallback(p, "zitadel", "bob", "")); pg.status != http.StatusSeeOther {
				t.Errorf("with the secret back: %d %.300s", pg.status, pg.body)
			}
			// The provider and client of a connection stay; its trust may change.
			moved := zitadel.Settings
			o := *moved.OIDC
			o.Issuer = "https://elsewhere.example"
			moved.OIDC = &o
			if _, err := w.svc.UpdateConnection(ctx, w.acme.ID, operator, zitadel.ID, directory.ConnectionChange{Settings: &moved}); directory.KindOf(err) != directory.Invalid {
				t.Errorf("another issuer by update: %v", err)
			}
			trusted := zitadel.Settings
			o = *trusted.OIDC
			o.EmailTrust = directory.EmailDomain
			trusted.OIDC = &o
			if up, err := w.svc.UpdateConnection(ctx, w.acme.ID, operator, zitadel.ID, directory.ConnectionChange{Settings: &trusted}); err != nil || up.Settings.OIDC.Trust() != directory.EmailDomain {
				t.Errorf("email trust by update: %v", err)
			}
			if _, err := w.svc.UpdateConnection(ctx, w.acme.ID, operator, zitadel.ID, directory.ConnectionChange{Settings: &zitadel.Settings}); err != nil {
				t.Fatal(err)
			}
			if err := w.svc.SetConnectionSecret(ctx, w.acme.ID, operator, w.okta.ID, "sealed"); directory.KindOf(err) != directory.Invalid {
				t.Errorf("a SAML connection's secret: %v", err)
			}
		})

		t.Run("the authorization request uses PKCE S256, a nonce and the login hint", func(t *testing.T) {
			b := w.browser()
			start := b.get(w.sp.URL + "/sso/acme/login?connection=zitadel&email=" + url.QueryEscape("bob@example.com"))
			u, err := url.Parse(start.location)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("nonce")) < 32 ||
				len(q.Get("state")) < 32 || q.Get("login_hint") != "bob@example.com" || !strings.Contains(q.Get("scope"), "openid") {
				t.Errorf("authorization request: %s", u.RawQuery)
			}
		})
	})
}

var emailFrom = regexp.MustCompile(`"email":\s*"preferred_username"`)

func TestOIDCRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		p := w.newProvider()
		zitadel := w.connection("zitadel")
		addUser(p, "eve", "eve@example.com", "Eve", "Adams", false)
		addUser(p, "mallory", "mallory@other.example", "Mallory", "M", true)

		// refused runs a login that must be refused: nobody is signed in,
		// the page says so with a reference, and the login log has reason.
		refused := func(t *testing.T, b *browser, callback string, status int, reason string) {
			t.Helper()
			outcome := "refused"
			if status == http.StatusBadGateway {
				outcome = "provider_error"
			}
			before := w.logins("oidc", outcome)
			pg := b.get(callback)
			if got := w.logins("oidc", outcome); got != before+1 {
				t.Errorf("admit_sso_logins_total{oidc,%s} went from %v to %v", outcome, before, got)
			}
			if pg.status != status || !strings.Contains(pg.body, "Reference") {
				t.Errorf("callback: got %d, want %d: %.400s", pg.status, status, pg.body)
			}
			if who := b.me(); who != "" {
				t.Errorf("signed in as %q", who)
			}
			if at := w.lastAttempt(zitadel); at.Outcome != "refused" || !strings.Contains(at.Reason, reason) {
				t.Errorf("login log: %s %q, want reason with %q", at.Outcome, at.Reason, reason)
			}
		}
		tampered := func(t *testing.T, tamper *oidctest.Tamper, reason string) {
			t.Helper()
			p.SetTamper(tamper)
			defer p.SetTamper(nil)
			b := w.browser()
			refused(t, b, b.oidcCallback(p, "zitadel", "bob", ""), http.StatusForbidden, reason)
		}
		later := func(d time.Duration) json.Number {
			return json.Number(strconv.FormatInt(time.Now().Add(d).Unix(), 10))
		}

		t.Run("state: the answer opened in another browser", func(t *testing.T) {
			callback := w.browser().oidcCallback(p, "zitadel", "bob", "")
			refused(t, w.browser(), callback, http.StatusForbidden, "no sign-in pending in this browser")
		})
		t.Run("state: altered", func(t *testing.T) {
			b := w.browser()
			u, _ := url.Parse(b.oidcCallback(p, "zitadel", "bob", ""))
			q := u.Query()
			q.Set("state", q.Get("state")+"x")
			u.RawQuery = q.Encode()
			refused(t, b, u.String(), http.StatusForbidden, "no sign-in pending in this browser")
		})
		t.Run("an answer naming another issuer (RFC 9207 mix-up)", func(t *testing.T) {
			b := w.browser()
			u, _ := url.Parse(b.oidcCallback(p, "zitadel", "bob", ""))
			q := u.Query()
			q.Set("iss", "https://evil.example")
			u.RawQuery = q.Encode()
			refused(t, b, u.String(), http.StatusForbidden, `not "`+p.Issuer)
		})
		t.Run("state: the same answer twice", func(t *testing.T) {
			b := w.browser()
			callback := b.oidcCallback(p, "zitadel", "bob", "")
			if pg := b.get(callback); pg.status != http.StatusSeeOther {
				t.Fatalf("first use: %d %s", pg.status, pg.body)
			}
			if pg := b.get(callback); pg.status != http.StatusForbidden {
				t.Errorf("second use in the same browser: %d", pg.status)
			}
			refused(t, w.browser(), callback, http.StatusForbidden, "no sign-in pending")
		})
		t.Run("nonce: altered", func(t *testing.T) {
			tampered(t, &oidctest.Tamper{Edit: func(_, c map[string]any) { c["nonce"] = "another-nonce" }}, "nonce")
		})
		t.Run("nonce: an earlier login's ID token replayed", func(t *testing.T) {
			var earlier map[string]any
			p.SetTamper(&oidctest.Tamper{Edit: func(_, c map[string]any) { earlier = c }})
			b := w.browser()
			if pg := b.get(b.oidcCallback(p, "zitadel", "bob", "")); pg.status != http.StatusSeeOther {
				t.Fatalf("first login: %d %s", pg.status, pg.body)
			}
			tampered(t, &oidctest.Tamper{Edit: func(_, c map[string]any) {
				clear(c)
				for k, v := range earlier {
					c[k] = v
				}
			}}, "nonce")
		})
		t.Run("alg none", func(t *testing.T) {
			tampered(t, &oidctest.Tamper{Edit: func(h, _ map[string]any) { h["alg"] = "none" }}, "ID token")
		})
		t.Run("signed by an unknown key", func(t *testing.T) {
			other, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			tampered(t, &oidctest.Tamper{Key: other}, "signature")
		})
		t.Run("wrong audience", func(t *testing.T) {
			tampered(t, &oidctest.Tamper{Edit: func(_, c map[string]any) { c["aud"] = []any{"another-client"} }}, "audience")
		})
		t.Run("several audiences and another authorized party", func(t *testing.T) {
			tampered(t, &oidctest.Tamper{Edit: func(_, c map[string]any) {
				c["aud"] = []any{"admit-zitadel", "another-client"}
				c["azp"] = "another-client"
			}}, "azp")
		})
		t.Run("wrong issuer", func(t *testing.T) {
			tampered(t, &oidctest.Tamper{Edit: func(_, c map[string]any) { c["iss"] = "https://evil.example" }}, "issued by a different provider")
		})
		t.Run("expired", func(t *testing.T) {
			tampered(t, &oidctest.Tamper{Edit: func(_, c map[string]any) {
				c["iat"], c["exp"] = later(-2*time.Hour), later(-time.Hour)
			}}, "expired")
		})
		t.Run("issued in the future", func(t *testing.T) {
			tampered(t, &oidctest.Tamper{Edit: func(_, c map[string]any) {
				c["iat"], c["exp"] = later(time.Hour), later(2*time.Hour)
			}}, "future")
		})
		t.Run("unverified email", func(t *testing.T) {
			b := w.browser()
			refused(t, b, b.oidcCallback(p, "zitadel", "eve", ""), http.StatusForbidden, "email_verified")
		})
		t.Run("email claimed verified but of another company's domain", func(t *testing.T) {
			b := w.browser()
			refused(t, b, b.oidcCallback(p, "zitadel", "mallory", ""), http.StatusForbidden, "other.example")
		})
		t.Run("the provider's error", func(t *testing.T) {
			b := w.browser()
			start := b.get(w.sp.URL + "/sso/acme/login?connection=zitadel")
			u, _ := url.Parse(start.location)
			callback := w.sp.URL + "/sso/acme/oidc/zitadel/callback?error=access_denied&error_description=" +
				url.QueryEscape("the user is not assigned to the application") + "&state=" + url.QueryEscape(u.Query().Get("state"))
			refused(t, b, callback, http.StatusForbidden, "access_denied: the user is not assigned")
			// Without a pending sign-in, the error is not the provider's
			// word and is not shown.
			pg := w.browser().get(w.sp.URL + "/sso/acme/oidc/zitadel/callback?error=access_denied&error_description=Call+0800+123")
			if pg.status != http.StatusForbidden || strings.Contains(pg.body, "0800") {
				t.Errorf("an error without a pending sign-in: %d %.400s", pg.status, pg.body)
			}
			if at := w.lastAttempt(zitadel); !strings.Contains(at.Reason, "no sign-in pending") {
				t.Errorf("login log: %q", at.Reason)
			}
		})
		t.Run("a code exchanged with the wrong PKCE verifier", func(t *testing.T) {
			// The state row holds the verifier; a callback carrying a code
			// issued to another login fails at the provider.
			b1, b2 := w.browser(), w.browser()
			c1, c2 := b1.oidcCallback(p, "zitadel", "bob", ""), b2.oidcCallback(p, "zitadel", "bob", "")
			u1, _ := url.Parse(c1)
			u2, _ := url.Parse(c2)
			q := u2.Query()
			q.Set("code", u1.Query().Get("code"))
			u2.RawQuery = q.Encode()
			refused(t, b2, u2.String(), http.StatusBadGateway, "token request")
		})
		if n, err := w.svc.ListMembers(context.Background(), w.acme.ID, "", "", 10); err != nil || len(n.Members) != 1 {
			t.Errorf("members after the refusals: %+v %v (only bob's own logins may create)", n.Members, err)
		}
	})
}

// TestOIDCSubjectWithNUL: an OpenID provider whose sub carries a NUL (JSON
// may: "\u0000") signs the person in by their address, unlinked, on both
// databases alike: PostgreSQL's text holds no NUL, and looking the link up
// answered with a server error there.
func TestOIDCSubjectWithNUL(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		p := w.newProvider()
		addUser(p, "n\x00l", "nul@example.com", "Nul", "Byte", true)
		for range 2 {
			b := w.browser()
			if pg := b.get(b.oidcCallback(p, "inline", "n\x00l", "")); pg.status != http.StatusSeeOther || pg.location != "/me" {
				t.Fatalf("login with sub %q: %d %q %.300s", "sub-n\x00l", pg.status, pg.location, pg.body)
			}
		}
		if _, err := w.svc.Member(context.Background(), w.acme.ID, "nul@example.com"); err != nil {
			t.Errorf("nul@example.com: %v", err)
		}
	})
}
