package provider_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
)

// TestScopeNeedsOpenID: admit signs people in with OpenID Connect, so a
// request without the openid scope (plain OAuth 2.0, which OpenID Connect
// Core section 3.1.2.1 leaves unspecified) is refused with invalid_scope
// naming openid, at the redirect URI, rather than answered with an ID
// token the app did not ask for. So is a refresh that narrows the scope
// to leave openid out; the refresh token stays good.
func TestScopeNeedsOpenID(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		s.invited(s.account("acme"), "ada@acme.example", "correct horse battery", directory.RoleMember)
		app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
		r := newRP(t, s, app, secret)
		b := s.browser()
		l := r.start(t)
		tok, err := r.conf.Exchange(ctx, b.code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
		if err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name, scope string
			ok          bool
		}{
			{"openid", "openid", true},
			{"openid last", "email profile openid", true},
			{"profile and email", "profile email", false},
			{"email", "email", false},
			{"offline_access", "offline_access", false},
			{"an account", "account:acme", false},
			{"a scope admit does not know", "read", false},
			{"OpenID in capitals (scopes are case-sensitive)", "OpenID profile", false},
		} {
			t.Run("authorize/"+tc.name, func(t *testing.T) {
				l := r.start(t, oauth2.SetAuthURLParam("scope", tc.scope))
				q := b.get(l.url).atApp(t)
				if tc.ok {
					if _, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(l.verifier)); err != nil {
						t.Errorf("scope %q: the app got %v; exchange: %v", tc.scope, q, err)
					}
					return
				}
				if q.Get("error") != "invalid_scope" || !strings.Contains(q.Get("error_description"), "openid") || q.Get("code") != "" || q.Get("state") != l.state {
					t.Errorf("scope %q: the app got %v; want invalid_scope naming openid, with its state", tc.scope, q)
				}
			})
		}

		refresh := func(t *testing.T, scope string) (int, map[string]any) {
			t.Helper()
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
			if scope != "" {
				form.Set("scope", scope)
			}
			req, _ := http.NewRequest("POST", r.provider.Endpoint().TokenURL, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(app.ClientID), url.QueryEscape(secret))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			return resp.StatusCode, body
		}
		t.Run("refresh narrowed to profile", func(t *testing.T) {
			status, body := refresh(t, "profile")
			if status != http.StatusBadRequest || body["error"] != "invalid_scope" || !strings.Contains(body["error_description"].(string), "openid") {
				t.Errorf("%d %v; want 400 invalid_scope naming openid", status, body)
			}
			// Refused before the rotation: the same refresh token works.
			if status, body := refresh(t, ""); status != http.StatusOK || body["id_token"] == nil {
				t.Errorf("the refresh token after the refusal: %d %v", status, body)
			}
		})
	})
}
