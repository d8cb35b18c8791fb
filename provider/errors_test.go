package provider_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store/storetest"
)

// TestErrorAnswers: what an app's library reads when admit refuses it is
// OAuth JSON with the status and challenge the RFCs give: invalid_client
// with 401 and WWW-Authenticate: Basic at the token, introspection and
// revocation endpoints (RFC 6749 section 5.2, RFC 7662 section 2.3);
// userinfo's 401 with WWW-Authenticate: Bearer, error="invalid_token" for
// a token that is not (or no longer) valid (RFC 6750 section 3.1);
// unsupported_grant_type for every grant discovery does not list.
func TestErrorAnswers(t *testing.T) {
	s := newSite(t, storetest.SQLite(t))
	ctx := context.Background()
	s.invited(s.account("acme"), "ada@acme.example", "correct horse battery", directory.RoleMember)
	app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
	r := newRP(t, s, app, secret)
	l := r.start(t)
	tok, err := r.conf.Exchange(ctx, s.browser().code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if a := call(t, "POST", s.issuer+"/oauth/revoke", url.Values{"token": {revoked.AccessToken}}, app.ClientID, secret); a.status != http.StatusOK {
		t.Fatalf("revocation: %d %s", a.status, a.body)
	}
	bearer := func(token string) func(*http.Request) {
		return func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+token) }
	}
	for _, tc := range []struct {
		name, method, path string
		form               url.Values
		user, password     string
		header             func(*http.Request)
		status             int
		code               string // the JSON error
		challenge          string // the start of WWW-Authenticate; "" for none
	}{
		{name: "introspection without credentials", method: "POST", path: "/oauth/introspect", form: url.Values{"token": {tok.AccessToken}},
			status: 401, code: "invalid_client", challenge: "Basic"},
		{name: "introspection with a wrong secret", method: "POST", path: "/oauth/introspect", form: url.Values{"token": {tok.AccessToken}},
			user: app.ClientID, password: "wrong", status: 401, code: "invalid_client", challenge: "Basic"},
		{name: "introspection with a wrong secret in the form", method: "POST", path: "/oauth/introspect", form: url.Values{"token": {tok.AccessToken}, "client_id": {app.ClientID}, "client_secret": {"wrong"}},
			status: 401, code: "invalid_client", challenge: "Basic"},
		{name: "token with a wrong secret", method: "POST", path: "/oauth/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
			user: app.ClientID, password: "wrong", status: 401, code: "invalid_client", challenge: "Basic"},
		{name: "token with an unknown code", method: "POST", path: "/oauth/token", form: url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {appPrefix + "web"}},
			user: app.ClientID, password: secret, status: 400, code: "invalid_grant"},
		// Grants discovery does not list.
		{name: "client credentials grant", method: "POST", path: "/oauth/token", form: url.Values{"grant_type": {"client_credentials"}},
			user: app.ClientID, password: secret, status: 400, code: "unsupported_grant_type"},
		{name: "JWT bearer grant", method: "POST", path: "/oauth/token", form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"e30.e30."}},
			status: 400, code: "unsupported_grant_type"},
		{name: "device code grant", method: "POST", path: "/oauth/token", form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"x"}},
			user: app.ClientID, password: secret, status: 400, code: "unsupported_grant_type"},
		{name: "token exchange grant", method: "POST", path: "/oauth/token", form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {tok.AccessToken}, "subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}},
			user: app.ClientID, password: secret, status: 400, code: "unsupported_grant_type"},
		{name: "revocation with a wrong secret", method: "POST", path: "/oauth/revoke", form: url.Values{"token": {tok.AccessToken}},
			user: app.ClientID, password: "wrong", status: 401, code: "invalid_client", challenge: "Basic"},
		// A repeated parameter, or two ways of authenticating the app
		// (RFC 6749 sections 3.2, 2.3, 5.2).
		{name: "token with a repeated grant type", method: "POST", path: "/oauth/token", form: url.Values{"grant_type": {"refresh_token", "refresh_token"}, "refresh_token": {tok.RefreshToken}},
			user: app.ClientID, password: secret, status: 400, code: "invalid_request"},
		{name: "token with a parameter in the query and the form", method: "POST", path: "/oauth/token?refresh_token=" + url.QueryEscape(tok.RefreshToken), form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
			user: app.ClientID, password: secret, status: 400, code: "invalid_request"},
		{name: "token with the secret in the header and the form", method: "POST", path: "/oauth/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_secret": {secret}},
			user: app.ClientID, password: secret, status: 400, code: "invalid_request"},
		{name: "token naming another app in the form", method: "POST", path: "/oauth/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"another"}},
			user: app.ClientID, password: secret, status: 400, code: "invalid_request"},
		{name: "introspection with a repeated token", method: "POST", path: "/oauth/introspect", form: url.Values{"token": {tok.AccessToken, revoked.AccessToken}},
			user: app.ClientID, password: secret, status: 400, code: "invalid_request"},
		{name: "introspection with a repeated secret in the form", method: "POST", path: "/oauth/introspect", form: url.Values{"token": {tok.AccessToken}, "client_id": {app.ClientID}, "client_secret": {"wrong", secret}},
			status: 400, code: "invalid_request"},
		{name: "introspection with the secret in the header and the form", method: "POST", path: "/oauth/introspect", form: url.Values{"token": {tok.AccessToken}, "client_id": {app.ClientID}, "client_secret": {secret}},
			user: app.ClientID, password: secret, status: 400, code: "invalid_request"},
		{name: "revocation with a repeated token", method: "POST", path: "/oauth/revoke", form: url.Values{"token": {tok.AccessToken, tok.AccessToken}},
			user: app.ClientID, password: secret, status: 400, code: "invalid_request"},
		// token is REQUIRED (RFC 7662 section 2.1, RFC 7009 section 2.1):
		// without it, {"active":false} or 200 tell the app nothing of its
		// mistake.
		{name: "introspection without a token", method: "POST", path: "/oauth/introspect", form: url.Values{"token_type_hint": {"access_token"}},
			user: app.ClientID, password: secret, status: 400, code: "invalid_request"},
		{name: "revocation without a token", method: "POST", path: "/oauth/revoke", form: url.Values{"token": {""}},
			user: app.ClientID, password: secret, status: 400, code: "invalid_request"},
		{name: "userinfo without a token", method: "GET", path: "/oauth/userinfo",
			status: 401, code: "invalid_request", challenge: `Bearer realm="admit"`},
		{name: "userinfo with a made-up token", method: "GET", path: "/oauth/userinfo", header: bearer("made-up"),
			status: 401, code: "invalid_token", challenge: `Bearer realm="admit", error="invalid_token"`},
		{name: "userinfo with a revoked token", method: "GET", path: "/oauth/userinfo", header: bearer(revoked.AccessToken),
			status: 401, code: "invalid_token", challenge: `Bearer realm="admit", error="invalid_token"`},
		{name: "userinfo with a revoked token in the form", method: "POST", path: "/oauth/userinfo", form: url.Values{"access_token": {revoked.AccessToken}},
			status: 401, code: "invalid_token", challenge: `Bearer realm="admit", error="invalid_token"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := s.issuer + tc.path
			req, err := http.NewRequest(tc.method, u, strings.NewReader(tc.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			if tc.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tc.user != "" {
				req.SetBasicAuth(url.QueryEscape(tc.user), url.QueryEscape(tc.password))
			}
			if tc.header != nil {
				tc.header(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || err != nil || body.Error != tc.code || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%d %s %q %+v (%v); want %d with the JSON error %s", resp.StatusCode, resp.Header.Get("Content-Type"), body.Error, body, err, tc.status, tc.code)
			}
			got := resp.Header.Get("WWW-Authenticate")
			if (tc.challenge == "") != (got == "") || !strings.HasPrefix(got, tc.challenge) {
				t.Errorf("WWW-Authenticate: %q; want %q...", got, tc.challenge)
			}
		})
	}
}

// lines is a log that tests read: each record with its level.
type lines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

// TestLibraryLinesThroughAdmitsLog: what op logs about an app's request
// comes out through the provider's logger, once, at admit's level (a
// refusal at INFO), with the request id; where admit logs the refusal
// itself, op's line is not repeated.
func TestLibraryLinesThroughAdmitsLog(t *testing.T) {
	log := &lines{}
	s := newLoggedSite(t, storetest.SQLite(t), slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
	req, _ := http.NewRequest("POST", s.issuer+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {appPrefix + "web"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(app.ClientID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := log.String()
	if strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "time=") || !strings.Contains(got, "level=INFO") ||
		!strings.Contains(got, "oidc_error.type=invalid_grant") {
		t.Errorf("a token request with an unknown code logged:\n%s\nwant one INFO line with oidc_error.type=invalid_grant", got)
	}

	// An unregistered redirect URI: admit's line, not op's as well.
	before := len(got)
	authorize := s.issuer + "/oauth/authorize?" + url.Values{"client_id": {app.ClientID}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "scope": {"openid"}}.Encode()
	if p := s.browser().get(authorize); p.status != http.StatusBadRequest {
		t.Fatalf("unregistered redirect URI: %d", p.status)
	}
	got = log.String()[before:]
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, `msg="app sign-in request refused" client_id=`+app.ClientID) || !strings.Contains(got, "level=INFO") {
		t.Errorf("an authorization with an unregistered redirect URI logged:\n%s\nwant admit's one INFO line", got)
	}

	// A person the app may not have (it is another account's): admit's
	// line with the reason, not op's access_denied as well.
	s.invited(s.account("acme"), "ada@acme.example", "correct horse battery", directory.RoleMember)
	other, otherSecret := s.app(directory.NewApp{Name: "Other", RedirectURIs: []string{appPrefix + "other"}, AccountID: s.account("globex").ID})
	b := s.browser()
	p := b.get(newRP(t, s, other, otherSecret).start(t).url)
	before = len(log.String())
	if q := b.signIn(p, "ada@acme.example", "correct horse battery").atApp(t); q.Get("error") != "access_denied" {
		t.Fatalf("the app got %v; want access_denied", q)
	}
	got = log.String()[before:]
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, `msg="app sign-in refused"`) || !strings.Contains(got, "level=INFO") {
		t.Errorf("an app sign-in refused to the person logged:\n%s\nwant admit's one INFO line", got)
	}
}

// TestStorageFaultIsNoRefusal: a storage fault that is not an outage (the
// database answers Ping) while userinfo reads the access token, or while
// introspection authenticates the app, is answered 500 server_error and
// logged at ERROR, not invalid_token (the app would end the person's
// session) or invalid_client (the app would be told its secret is wrong),
// with no line at all; nor, while introspection reads the token,
// {"active":false} (the API would turn its caller away as signed out).
func TestStorageFaultIsNoRefusal(t *testing.T) {
	log := &lines{}
	st := storetest.SQLite(t)
	s := newLoggedSite(t, st, slog.New(slog.NewTextHandler(log, nil)))
	ctx := context.Background()
	s.invited(s.account("acme"), "ada@acme.example", "correct horse battery", directory.RoleMember)
	app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
	r := newRP(t, s, app, secret)
	l := r.start(t)
	tok, err := r.conf.Exchange(ctx, s.browser().code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, table, path string }{
		{"userinfo", "app_tokens", "/oauth/userinfo"},
		{"introspection", "apps", "/oauth/introspect"},
		// The app authenticates; the token cannot be read: no
		// {"active":false}, which an API would take for a revoked token.
		{"introspection of the token", "app_tokens", "/oauth/introspect"},
		{"revocation", "apps", "/oauth/revoke"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := st.DB().Exec("ALTER TABLE " + tc.table + " RENAME TO gone"); err != nil {
				t.Fatal(err)
			}
			defer st.DB().Exec("ALTER TABLE gone RENAME TO " + tc.table)
			before := len(log.String())
			form := url.Values{"token": {tok.AccessToken}, "access_token": {tok.AccessToken}, "client_id": {app.ClientID}, "client_secret": {secret}}
			resp, err := http.PostForm(s.issuer+tc.path, form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			got := log.String()[before:]
			if resp.StatusCode != http.StatusInternalServerError || body.Error != "server_error" || !strings.Contains(got, "level=ERROR") {
				t.Errorf("%d %q, logged %q; want 500 server_error and an ERROR line", resp.StatusCode, body.Error, got)
			}
			if strings.Contains(got, secret) || strings.Contains(got, tok.AccessToken) {
				t.Errorf("the secret or the token is in the log: %s", got)
			}
		})
	}
}

// TestClientIDsNoAppHas: a client_id that is not text PostgreSQL can
// compare (a NUL, bytes that are not UTF-8), sent by anyone to the
// endpoints an app authenticates to, is an unknown client (401
// invalid_client), as any other typo, not the 500 of PostgreSQL's refusal.
func TestClientIDsNoAppHas(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		for _, id := range []string{"admit_app_\x00", "\xff", "nope"} {
			for _, path := range []string{"/oauth/introspect", "/oauth/revoke", "/oauth/token"} {
				form := url.Values{"token": {"x"}}
				if path == "/oauth/token" {
					form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}
				}
				if a := call(t, "POST", s.issuer+path, form, id, "secret"); a.status != http.StatusUnauthorized {
					t.Errorf("%s with client_id %q: %d %s; want 401 invalid_client", path, id, a.status, a.body)
				}
			}
		}
	})
}
