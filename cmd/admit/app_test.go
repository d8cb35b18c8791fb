package main

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/store/storetest"
)

func TestAppCommands(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		// One server key for every run: the key pairs are sealed with it.
		env := append(os.Environ(), "ADMIT_DATABASE_URL="+db, "ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
		admit := func(t *testing.T, _, stdin string, args ...string) result {
			t.Helper()
			return admitWith(t, env, stdin, args...)
		}
		if r := admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme"); r.code != 0 {
			t.Fatalf("account create: %s", r.stderr)
		}
		r := admit(t, db, "", "app", "add", "--name", "Wiki", "--redirect-uri", "https://wiki.example.com/cb", "--account", "acme", "--json")
		if r.code != 0 {
			t.Fatalf("app add: exit %d: %s", r.code, r.stderr)
		}
		app := decode[appJSON](t, r)
		if !strings.HasPrefix(app.ClientID, "admit_app_") || !strings.HasPrefix(app.ClientSecret, "admit_secret_") || app.Account != "acme" || app.Public {
			t.Errorf("app add JSON = %+v", app)
		}
		r = admit(t, db, "", "app", "add", "--name", "SPA", "--redirect-uri", "http://localhost:5173/cb", "--public")
		if r.code != 0 || !strings.Contains(r.stdout, "PKCE") || strings.Contains(r.stdout, "admit_secret_") {
			t.Errorf("app add --public: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		list := decode[[]appJSON](t, admit(t, db, "", "app", "list", "--json"))
		if len(list) != 2 || list[0].ClientSecret != "" || list[0].Account != "acme" || list[1].Account != "" || !list[1].Public {
			t.Errorf("app list = %+v", list)
		}
		rotated := decode[map[string]string](t, admit(t, db, "", "app", "rotate-secret", "--client-id", app.ClientID, "--json"))
		if s := rotated["client_secret"]; !strings.HasPrefix(s, "admit_secret_") || s == app.ClientSecret {
			t.Errorf("rotate-secret = %v", rotated)
		}
		gated := decode[appJSON](t, admit(t, db, "", "app", "add", "--name", "Gated", "--forward-auth-host", "Gated.example.com", "--path-prefix", "/g", "--account", "acme", "--json"))
		if gated.ForwardAuthHost != "gated.example.com" || gated.PathPrefix != "/g" || len(gated.RedirectURIs) != 0 {
			t.Errorf("app add --forward-auth-host JSON = %+v", gated)
		}
		if r := admit(t, db, "", "app", "list"); !strings.Contains(r.stdout, "forward-auth gated.example.com/g") {
			t.Errorf("app list does not show the forward-auth host: %s", r.stdout)
		}
		if app.GroupFilter != "" || gated.GroupFilter != "" {
			t.Errorf("without --groups: filters %q, %q; want none", app.GroupFilter, gated.GroupFilter)
		}
		filtered := decode[appJSON](t, admit(t, db, "", "app", "add", "--name", "Docs", "--forward-auth-host", "docs.example.com", "--groups", " docs-* , Admins", "--json"))
		if filtered.GroupFilter != "docs-*,Admins" {
			t.Errorf("app add --groups JSON = %+v; want group_filter docs-*,Admins", filtered)
		}
		if r := admit(t, db, "", "app", "list"); !regexp.MustCompile(`Docs .* docs-\*,Admins +forward-auth docs\.example\.com`).MatchString(r.stdout) ||
			!regexp.MustCompile(`Gated .* all +forward-auth gated`).MatchString(r.stdout) {
			t.Errorf("app list does not show the group filters: %s", r.stdout)
		}
		set := decode[map[string]string](t, admit(t, db, "", "app", "set-groups", "--client-id", filtered.ClientID, "--groups", "wiki-*", "--json"))
		if set["group_filter"] != "wiki-*" || set["client_id"] != filtered.ClientID {
			t.Errorf("app set-groups JSON = %v", set)
		}
		if r := admit(t, db, "", "app", "set-groups", "--client-id", filtered.ClientID, "--groups", ""); r.code != 0 || !strings.Contains(r.stdout, "every group") {
			t.Errorf("app set-groups --groups '': exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		for _, a := range decode[[]appJSON](t, admit(t, db, "", "app", "list", "--json")) {
			if a.ClientID == filtered.ClientID && a.GroupFilter != "" {
				t.Errorf("after clearing, app list shows %q", a.GroupFilter)
			}
		}
		if app.RefreshReuseSeconds != 10 {
			t.Errorf("app add without --refresh-reuse-interval: %d s; want the default, 10", app.RefreshReuseSeconds)
		}
		patient := decode[appJSON](t, admit(t, db, "", "app", "add", "--name", "Proxy", "--redirect-uri", "https://proxy.example.com/oauth2/callback", "--refresh-reuse-interval", "30s", "--json"))
		if patient.RefreshReuseSeconds != 30 {
			t.Errorf("app add --refresh-reuse-interval 30s JSON = %+v", patient)
		}
		reuse := decode[map[string]any](t, admit(t, db, "", "app", "set-refresh-reuse", "--client-id", patient.ClientID, "--refresh-reuse-interval", "0s", "--json"))
		if reuse["refresh_reuse_seconds"] != float64(0) || reuse["client_id"] != patient.ClientID {
			t.Errorf("app set-refresh-reuse JSON = %v", reuse)
		}
		if r := admit(t, db, "", "app", "set-refresh-reuse", "--client-id", patient.ClientID, "--refresh-reuse-interval", "1m"); r.code != 0 || !strings.Contains(r.stdout, "1m0s") {
			t.Errorf("app set-refresh-reuse 1m: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		if r := admit(t, db, "", "app", "remove", "--client-id", app.ClientID); r.code != 0 || !strings.Contains(r.stdout, "removed app Wiki") {
			t.Errorf("app remove: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}

		// The token keys rotate apart from the SAML certificate.
		for _, want := range []string{"Published es256 key", "now signs tokens"} {
			if r := admit(t, db, "", "certs", "rotate", "--kind", "es256"); r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("certs rotate --kind es256: exit %d: %s%s; want %q", r.code, r.stdout, r.stderr, want)
			}
		}
		tokenKeys := decode[[]certificateJSON](t, admit(t, db, "", "certs", "list", "--kind", "es256", "--json"))
		samlCerts := decode[[]certificateJSON](t, admit(t, db, "", "certs", "list", "--json"))
		if len(tokenKeys) != 2 || tokenKeys[0].State != "active" || tokenKeys[1].State != "previous" || tokenKeys[0].Kind != "es256" ||
			len(samlCerts) != 1 || samlCerts[0].Kind != "saml" {
			t.Errorf("after rotating es256 twice: es256 %+v, saml %+v", tokenKeys, samlCerts)
		}

		for _, tc := range []struct {
			name string
			args []string
			code int
			want string
		}{
			{"no redirect URI", []string{"app", "add", "--name", "X"}, exitError, "a redirect URI (OpenID Connect) or a forward-auth host"},
			{"forward-auth host with a scheme", []string{"app", "add", "--name", "X", "--forward-auth-host", "https://x.example"}, exitError, "without a scheme"},
			{"plain http", []string{"app", "add", "--name", "X", "--redirect-uri", "http://x.example/cb"}, exitError, "must use https"},
			{"fragment", []string{"app", "add", "--name", "X", "--redirect-uri", "https://x.example/cb#a"}, exitError, "fragment"},
			{"unknown account", []string{"app", "add", "--name", "X", "--redirect-uri", "https://x.example/cb", "--account", "nope"}, exitError, `no account "nope"`},
			{"remove unknown", []string{"app", "remove", "--client-id", "admit_app_nope"}, exitError, "no app with client id"},
			{"unknown key kind", []string{"certs", "rotate", "--kind", "hs256"}, exitUsage, "--kind must be saml, es256 or rs256"},
			{"rotate a public app", []string{"app", "rotate-secret", "--client-id", list[1].ClientID}, exitError, "public"},
			{"bad group filter", []string{"app", "add", "--name", "X", "--forward-auth-host", "x.example", "--groups", "wiki-*,*"}, exitError, "matches every group"},
			{"group filter with * inside", []string{"app", "set-groups", "--client-id", gated.ClientID, "--groups", "wi*ki,a,,b"}, exitError, "may only end an entry"},
			{"set-groups without --groups", []string{"app", "set-groups", "--client-id", gated.ClientID}, exitUsage, "missing --groups"},
			{"set-groups of an unknown app", []string{"app", "set-groups", "--client-id", "admit_app_nope", "--groups", "a"}, exitError, "no app with client id"},
			{"refresh reuse beyond a minute", []string{"app", "add", "--name", "X", "--redirect-uri", "https://x.example/cb", "--refresh-reuse-interval", "90s"}, exitError, "whole seconds from 0s to 1m0s"},
			{"refresh reuse of a fraction", []string{"app", "set-refresh-reuse", "--client-id", gated.ClientID, "--refresh-reuse-interval", "1500ms"}, exitError, "whole seconds"},
			{"negative refresh reuse", []string{"app", "set-refresh-reuse", "--client-id", gated.ClientID, "--refresh-reuse-interval", "-1s"}, exitError, "whole seconds"},
			{"refresh reuse not a duration", []string{"app", "set-refresh-reuse", "--client-id", gated.ClientID, "--refresh-reuse-interval", "30"}, exitUsage, "refresh-reuse-interval"},
			{"set-refresh-reuse without the interval", []string{"app", "set-refresh-reuse", "--client-id", gated.ClientID}, exitUsage, "missing --refresh-reuse-interval"},
			{"set-refresh-reuse of an unknown app", []string{"app", "set-refresh-reuse", "--client-id", "admit_app_nope", "--refresh-reuse-interval", "5s"}, exitError, "no app with client id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := admit(t, db, "", tc.args...)
				// One line of reason; a mistake in the flags adds the
				// command's synopsis.
				reason, _, _ := strings.Cut(r.stderr, "\n")
				if r.code != tc.code || !strings.Contains(reason, tc.want) || (tc.code != exitUsage && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0) {
					t.Errorf("exit %d, stderr %q; want exit %d and one line mentioning %q", r.code, r.stderr, tc.code, tc.want)
				}
			})
		}
	})
}

// TestAppSignsInThroughServe: an app registered with admit app add signs
// a person in through admit serve, as any Go app would (go-oidc and
// x/oauth2), by password through the sign-in form: discovery, the code
// flow with PKCE, the ID token verified with the JWKS, userinfo.
func TestAppSignsInThroughServe(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	addr := freeAddr(t)
	base := "http://" + addr
	env := append(cleanEnv(), "ADMIT_DATABASE_URL="+db, "ADMIT_BASE_URL="+base, "ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := admitWith(t, env, stdin, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		return r
	}
	cli("", "account", "create", "--slug", "acme", "--name", "Acme")
	cli("an initial password\n", "user", "add", "--account", "acme", "--email", "ada@acme.example", "--first", "Ada", "--last", "Lovelace", "--password-stdin")
	const callback = "http://127.0.0.1:9/cb"
	app := decode[appJSON](t, cli("", "app", "add", "--name", "Wiki", "--redirect-uri", callback, "--public", "--json"))
	if app.Issuer != base {
		t.Errorf("app add printed issuer %q; want %q", app.Issuer, base)
	}
	srv := startServer(t, t.TempDir(), "ADMIT_DATABASE_URL="+db, "ADMIT_BASE_URL="+base, "ADMIT_ADDR="+addr, "ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	defer srv.stop(t)

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: app.ClientID, Endpoint: provider.Endpoint(), RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), callback) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	fetch := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	form := func(page string, fields url.Values) url.Values {
		t.Helper()
		for _, name := range []string{"csrf_token", "return_to"} {
			if m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(page); m != nil {
				fields.Set(name, html.UnescapeString(m[1]))
			}
		}
		return fields
	}

	verifier, state := oauth2.GenerateVerifier(), "state-1"
	resp, page := fetch(browser.Get(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))))
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("authorize without a session went to %s", resp.Request.URL)
	}
	// The password an operator set must be changed first; then the
	// browser goes on with the app's request, back to the app.
	resp, page = fetch(browser.PostForm(base+"/login", form(page, url.Values{"email": {"ada@acme.example"}, "password": {"an initial password"}})))
	if resp.Request.URL.Path != "/password/change" {
		t.Fatalf("after sign-in: %s", resp.Request.URL)
	}
	resp, _ = fetch(browser.PostForm(base+"/password/change", form(page, url.Values{"current": {"an initial password"}, "password": {"ada's own passphrase"}, "confirm": {"ada's own passphrase"}})))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if !strings.HasPrefix(loc.String(), callback) || loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		t.Fatalf("the app got %d %s", resp.StatusCode, loc)
	}
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: app.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
		Role          string `json:"role"`
		Account       struct {
			Slug string `json:"slug"`
		} `json:"account"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	// An operator set the password: nothing proved the address.
	if claims.Email != "ada@acme.example" || claims.EmailVerified || claims.Name != "Ada Lovelace" || claims.Role != "member" || claims.Account.Slug != "acme" {
		t.Errorf("ID token claims %+v", claims)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != idt.Subject || info.Email != "ada@acme.example" {
		t.Errorf("userinfo %+v, %v", info, err)
	}
}
