package main

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/admit-dev/admit/sso/oidctest"
	"github.com/admit-dev/admit/store/storetest"
)

// freeAddr finds a loopback port nobody listens on, so that admit's base
// URL (and with it the redirect URI registered at the provider) is known
// before admit starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// allowLoopback lets admit reach the test identity providers, which run on
// this machine: as an operator allows a provider on the company's network.
const allowLoopback = "ADMIT_OUTBOUND_ALLOW=127.0.0.0/8"

func TestSSOAddOIDCCommand(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	admit := func(t *testing.T, db, stdin string, args ...string) result {
		t.Helper()
		return admitWith(t, append(os.Environ(), "ADMIT_DATABASE_URL="+db, allowLoopback, testKey), stdin, args...)
	}
	p := oidctest.Start(t, oidctest.Client{ID: "admit", Secret: "s3cret", RedirectURI: "http://localhost:8080/sso/acme/oidc/okta/callback"})
	admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "example.com")
	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		out   string
	}{
		{"s3cret\n", []string{"--name", "okta", "--issuer", p.Issuer, "--client-id", "admit", "--client-secret-stdin"}, 0, "http://localhost:8080/sso/acme/oidc/okta/callback"},
		{"s3cret\n", []string{"--name", "okta", "--issuer", p.Issuer, "--client-id", "admit", "--client-secret-stdin"}, exitError, "already has a connection named"},
		{"", []string{"--name", "b", "--issuer", p.Issuer, "--client-id", "admit"}, exitUsage, "--client-secret-stdin"},
		{"", []string{"--name", "b", "--issuer", p.Issuer, "--client-id", "admit", "--client-secret-stdin"}, exitUsage, "standard input held no client secret"},
		{"x\n", []string{"--name", "b", "--client-id", "admit", "--client-secret-stdin"}, exitUsage, "-issuer"},
		{"x\n", []string{"--name", "b", "--issuer", "http://idp.example.com", "--client-id", "a", "--client-secret-stdin"}, exitError, "must be https"},
		{"x\n", []string{"--name", "b", "--issuer", "https://login.microsoftonline.com/common/v2.0", "--client-id", "a", "--client-secret-stdin"}, exitError, "tenant's own issuer"},
		{"x\n", []string{"--name", "b", "--issuer", p.Issuer + "/nothing-here", "--client-id", "a", "--client-secret-stdin"}, exitError, "cannot read the OpenID configuration"},
		{"x\n", []string{"--name", "b", "--issuer", p.Issuer, "--client-id", "a", "--client-secret-stdin", "--email-trust", "blind"}, exitError, "want verified or domain"},
	} {
		r := admit(t, db, tc.stdin, append([]string{"sso", "add-oidc", "--account", "acme"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.out) {
			t.Errorf("%v: exit %d, %q %q; want exit %d with %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.out)
		}
		if strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Errorf("%v: the client secret was printed", tc.args)
		}
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		out   string
	}{
		{"n3w-s3cret\n", []string{"sso", "set-secret", "--account", "acme", "--connection", "okta", "--client-secret-stdin"}, 0, "replaced the client secret"},
		{"n3w-s3cret\n", []string{"sso", "set-secret", "--account", "acme", "--connection", "okta"}, exitUsage, "--client-secret-stdin"},
		{"n3w-s3cret\n", []string{"sso", "set-secret", "--account", "acme", "--connection", "nope", "--client-secret-stdin"}, exitError, "no connection named"},
		{"", []string{"sso", "set-metadata", "--account", "acme", "--connection", "okta", "--metadata-file", idpMetadataFile(t)}, exitError, "is OIDC"},
	} {
		r := admit(t, db, tc.stdin, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.out) || strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Errorf("%v: exit %d, %q %q; want exit %d with %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.out)
		}
	}
	// The issuer typed with a trailing slash the provider does not use is
	// kept as the provider spells it.
	admit(t, db, "x\n", "sso", "add-oidc", "--account", "acme", "--name", "slash", "--issuer", p.Issuer+"/", "--client-id", "a", "--client-secret-stdin")
	list := decode[[]map[string]any](t, admit(t, db, "", "sso", "list", "--account", "acme", "--json"))
	if len(list) != 2 || list[1]["settings"].(map[string]any)["oidc"].(map[string]any)["issuer"] != p.Issuer {
		t.Fatalf("issuer with a trailing slash: %v", list)
	}
	admit(t, db, "", "sso", "remove", "--account", "acme", "--connection", "slash")
	list = decode[[]map[string]any](t, admit(t, db, "", "sso", "list", "--account", "acme", "--json"))
	if len(list) != 1 || list[0]["protocol"] != "oidc" || list[0]["redirect_uri"] != "http://localhost:8080/sso/acme/oidc/okta/callback" ||
		list[0]["initiate_login_uri"] != "http://localhost:8080/sso/acme/oidc/okta/initiate" {
		t.Errorf("sso list: %v", list)
	}
}

// oidcSite is a test provider and `admit serve` with account acme
// (example.com) connected to it as OIDC connection corp; cli runs admit
// commands against the same database.
func oidcSite(t *testing.T) (*oidctest.Provider, *server, func(stdin string, args ...string)) {
	t.Helper()
	addr := freeAddr(t)
	base := "http://" + addr
	p := oidctest.Start(t, oidctest.Client{ID: "admit", Secret: "s3cret", RedirectURI: base + "/sso/acme/oidc/corp/callback"})
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), testKey,
		"ADMIT_ADDR=" + addr, "ADMIT_BASE_URL=" + base, allowLoopback}
	cli := func(stdin string, args ...string) {
		t.Helper()
		if r := admitWith(t, append(cleanEnv(), settings...), stdin, args...); r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
	}
	cli("", "account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "example.com")
	cli("s3cret\n", "sso", "add-oidc", "--account", "acme", "--name", "corp", "--issuer", p.Issuer, "--client-id", "admit", "--client-secret-stdin")
	return p, startServer(t, t.TempDir(), settings...), cli
}

// TestOIDCLoginInBrowser is the whole OIDC flow through `admit serve`:
// the connection added with the CLI, an employee following the intranet
// link in Chromium, signing in at the provider and arriving provisioned.
func TestOIDCLoginInBrowser(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	p, s, _ := oidcSite(t)
	p.AddUser(oidctest.User{Username: "nia", Email: "nia@example.com", EmailVerified: true, GivenName: "Nia", FamilyName: "Ng"})

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/sso/acme/login?return_to=/me"),
		chromedp.WaitVisible(`#username`), // the provider's login page
		chromedp.SendKeys(`#username`, "nia"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#current-account`),
	)
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, s.logs)
	}
	expectSignedIn(t, ctx, "Acme Inc", "nia@example.com")
	s.stop(t)
}

// TestSignInPageOffersSSO is home realm discovery on the password sign-in
// page: an address of a domain with single sign-on is offered its SSO,
// which starts at the provider with the address as the login hint.
func TestSignInPageOffersSSO(t *testing.T) {
	t.Parallel()
	p, s, cli := oidcSite(t)
	cli("", "account", "create", "--slug", "plain", "--name", "Plain Ltd", "--domain", "plain.example")

	b := browser(t)
	signIn := func(email string) (int, string) {
		t.Helper()
		_, page := fetch(t, b, "GET", s.url+"/login", nil)
		return fetch(t, b, "POST", s.url+"/login", url.Values{"csrf_token": {csrfField.FindStringSubmatch(page)[1]}, "email": {email}, "password": {"not known here"}})
	}
	status, page := signIn("pat@example.com")
	link := `href="/sso/acme/login?connection=corp&amp;email=pat%40example.com"`
	if status != http.StatusUnauthorized || !strings.Contains(page, "Continue with Acme Inc") || !strings.Contains(page, link) {
		t.Errorf("an SSO domain: %d, want the SSO offered (%s):\n%s", status, link, page)
	}
	if _, page := signIn("sam@plain.example"); strings.Contains(page, "Continue with") {
		t.Errorf("a domain without SSO was offered one:\n%s", page)
	}
	noRedirect := &http.Client{Jar: b.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.url + "/sso/acme/login?connection=corp&email=pat%40example.com")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if to := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(to, p.Issuer+"/authorize?") || !strings.Contains(to, "login_hint=pat%40example.com") {
		t.Errorf("the offered link: %d to %q", resp.StatusCode, to)
	}
}
