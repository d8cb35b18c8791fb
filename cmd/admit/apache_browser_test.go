package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/daemontest"
	"github.com/admit-dev/admit/store/storetest"
)

// modAuthOpenIDCConf is the mod_auth_openidc snippet of docs/apps.md
// (TestModAuthOpenIDCSnippetIsDocumented), with the test's addresses.
const modAuthOpenIDCConf = `OIDCProviderMetadataURL {{admit}}/.well-known/openid-configuration
OIDCClientID {{client_id}}
OIDCClientSecret {{client_secret}}
OIDCRedirectURI {{app}}/redirect_uri
# Encrypts mod_auth_openidc's cookies and cache: a long random secret of
# your own (openssl rand -base64 32), the same on every Apache of the app.
OIDCCryptoPassphrase {{passphrase}}
OIDCScope "openid email profile"
OIDCPKCEMethod S256

# Every page needs a sign-in, but the one admit sends the browser to after
# a sign-out.
<Location />
  AuthType openid-connect
  Require valid-user
</Location>
<Location /signed-out>
  AuthType None
  Require all granted
</Location>
# The app, told who signed in by OIDC_CLAIM_ headers; the redirect URI is
# mod_auth_openidc's own.
ProxyPass /redirect_uri !
ProxyPass / {{upstream}}/
`

// modAuthOpenIDCDocumented is what docs/apps.md shows for each of the
// test's own values.
var modAuthOpenIDCDocumented = strings.NewReplacer("{{admit}}", "https://admit.example.com", "{{app}}", "https://wiki.example.com",
	"{{client_id}}", "admit_app_…", "{{client_secret}}", "admit_secret_…", "{{passphrase}}", "…", "{{upstream}}", "http://127.0.0.1:8000")

// TestModAuthOpenIDCSnippetIsDocumented: the Apache configuration that
// docs/apps.md gives is the one TestModAuthOpenIDCInBrowser runs.
func TestModAuthOpenIDCSnippetIsDocumented(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "apps.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(page), "### Apache httpd with mod_auth_openidc\n")
	_, block, ok2 := strings.Cut(section, "```apache\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/apps.md has no ```apache block under a heading \"Apache httpd with mod_auth_openidc\"")
	}
	if diff := cmp.Diff(modAuthOpenIDCDocumented.Replace(modAuthOpenIDCConf), block); diff != "" {
		t.Errorf("docs/apps.md's mod_auth_openidc configuration is not the tested one (-tested +documented):\n%s", diff)
	}
}

// apacheComplaints returns the errors and warnings mod_auth_openidc logged
// in dir: what it refused of admit's, or failed to do with it, such as
// revoking the tokens at sign-out. Three warnings are expected: the test's
// plain-http addresses (OIDCProviderMetadataURL and OIDCRedirectURI SHOULD
// be https), the claim headers it forges, and the back-channel logout of a
// session Apache ended itself at the sign-out (admit tells the app of it
// all the same: whoever holds an ID token may send that sign-out, not only
// the app; provider.TestBackchannelLogoutNamesEachSession).
func apacheComplaints(t *testing.T, dir string) []string {
	t.Helper()
	logs, err := os.ReadFile(filepath.Join(dir, "error.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(logs), "\n") {
		if (strings.Contains(line, "[auth_openidc:error]") || strings.Contains(line, "[auth_openidc:warn]")) &&
			!strings.Contains(line, `SHOULD be "https" for security reasons`) && !strings.Contains(line, "scrubbed suspicious request header") &&
			!strings.Contains(line, "could not (or no longer) find a session based on sid/sub provided in logout token") {
			out = append(out, line)
		}
	}
	return out
}

// claimsApp is the app behind Apache: its page shows the OIDC_CLAIM_
// headers mod_auth_openidc passes, one per line, in a <pre id="claims">.
func claimsApp(t *testing.T) *httptest.Server {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/signed-out" {
			fmt.Fprint(w, `<!doctype html><title>wiki</title><p id="signed-out">signed out of the wiki</p>`)
			return
		}
		// Go reads OIDC_CLAIM_email as Oidc_claim_email. A header sent
		// twice shows as a|b.
		var lines []string
		for name, values := range r.Header {
			if claim, ok := strings.CutPrefix(strings.ToLower(name), "oidc_claim_"); ok {
				lines = append(lines, claim+"="+strings.Join(values, "|"))
			}
		}
		slices.Sort(lines)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>wiki</title><pre id=\"claims\">%s</pre>", html.EscapeString(strings.Join(lines, "\n")))
	}))
	t.Cleanup(app.Close)
	return app
}

// TestModAuthOpenIDCInBrowser: Apache httpd with mod_auth_openidc, as an
// enterprise puts it in front of a legacy app, is a relying party of
// admit, run as docs/apps.md says. In Chromium, a person signs in through
// it (confidential, client_secret_basic, PKCE S256) and the app behind it
// is told their sub, email, groups and account as admit issued them, never
// a client's own claim headers. Signing out at mod_auth_openidc's logout
// URL ends Apache's session and admit's (the id_token_hint vouches for
// it). Signed in again, on two devices, the person's sessions are ended by
// an admin: admit's back-channel logouts end both of Apache's sessions. And
// mod_auth_openidc logs no complaint about anything admit sent it.
func TestModAuthOpenIDCInBrowser(t *testing.T) {
	t.Parallel()
	daemontest.FindApache(t)
	admitAddr := freeAddr(t)
	admitOrigin := "http://" + admitAddr
	apachePort := portOf(t, freeAddr(t))
	// Apache on localhost, admit on 127.0.0.1: two sites, as in
	// production, so neither sees the other's cookies as its own.
	appOrigin := "http://localhost:" + apachePort
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), testKey, "ADMIT_ADDR=" + admitAddr, "ADMIT_BASE_URL=" + admitOrigin,
		// The app's host, on a private address (here loopback), as an
		// operator allows it for the back-channel logouts.
		"ADMIT_OUTBOUND_ALLOW=localhost"}
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), stdin, args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	cli("", "account", "create", "--slug", "acme", "--name", "Acme")
	pat := decode[memberJSON](t, cli("initial password given\n", "user", "add", "--account", "acme", "--email", "pat@acme.example", "--first", "Pat", "--last", "Q", "--password-stdin", "--json"))
	scimToken := decode[map[string]any](t, cli("", "scim-token", "create", "--account", "acme", "--json"))["token"].(string)
	registered := decode[appJSON](t, cli("", "app", "add", "--name", "Wiki", "--redirect-uri", appOrigin+"/redirect_uri",
		"--post-logout-redirect-uri", appOrigin+"/signed-out", "--backchannel-logout-uri", appOrigin+"/redirect_uri?logout=backchannel", "--json"))
	s := startServer(t, t.TempDir(), settings...)
	scimGroups(t, admitOrigin, scimToken, "pat@acme.example", 2)

	upstream := claimsApp(t)
	dir := t.TempDir()
	conf := strings.NewReplacer("{{admit}}", admitOrigin, "{{app}}", appOrigin, "{{client_id}}", registered.ClientID, "{{client_secret}}", registered.ClientSecret,
		"{{passphrase}}", "passphrase-of-this-test-0123456789", "{{upstream}}", upstream.URL).Replace(modAuthOpenIDCConf)
	daemontest.StartApache(t, dir, apachePort, conf)

	// Apache's first answer sends the browser to admit with PKCE.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("GET", appOrigin+"/wiki/page", nil)
	// As a browser asks for a page: to another client (an XHR, an API
	// call) mod_auth_openidc answers 401 instead.
	req.Header.Set("Accept", "text/html")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authz, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(authz.String(), admitOrigin+"/oauth/authorize?") {
		t.Fatalf("Apache answered %d with Location %q; want a redirect to admit's authorization endpoint", resp.StatusCode, resp.Header.Get("Location"))
	}
	if q := authz.Query(); q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("client_id") != registered.ClientID {
		t.Errorf("the authorization request %v lacks PKCE S256 or the client id", q)
	}
	req.Header.Set("Accept", "application/json")
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Apache answered a request for JSON with %d; want 401, not a redirect to sign in", resp.StatusCode)
	}

	browser := newBrowser(t)
	// Started on the browser's own context: the steps' shorter ones would
	// close it as they end.
	if err := chromedp.Do(browser); err != nil {
		t.Fatal(err)
	}
	doIn := func(b context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := browse(b, actions...); err != nil {
			t.Fatalf("%s: %v (the browser is at %s)\n%s", step, err, browserAt(b), s.logs)
		}
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		doIn(browser, step, actions...)
	}
	claimsShown := func() map[string]string {
		t.Helper()
		text, err := chromedp.Run(browser, chromedp.Text(`#claims`))
		if err != nil {
			t.Fatal(err)
		}
		claims := map[string]string{}
		for _, line := range strings.Split(text, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				claims[k] = v
			}
		}
		return claims
	}

	// Pat signs in through Apache; admit asks them to choose their own
	// password first, then sends them on to the app.
	do("sign-in through Apache",
		chromedp.Navigate(appOrigin+"/wiki/page"),
		firstSignIn("pat@acme.example", "initial password given", "a phrase only pat knows"),
		chromedp.WaitVisible(`#claims`),
	)
	if where := browserAt(browser); !strings.HasPrefix(where, appOrigin+"/wiki/page") {
		t.Errorf("after the sign-in the browser is at %s; want the page it asked for", where)
	}
	claims := claimsShown()
	want := map[string]string{
		"sub":    pat.UserID,
		"email":  "pat@acme.example",
		"name":   "Pat Q",
		"role":   "member",
		"groups": "Engineering / Platform / Team 000 / All,Engineering / Platform / Team 001 / All",
		"iss":    admitOrigin,
		"aud":    registered.ClientID,
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("the app was told %s=%q; want %q (all it was told: %v)", k, claims[k], v, claims)
		}
	}
	var account struct {
		Slug string `json:"slug"`
	}
	if err := json.Unmarshal([]byte(claims["account"]), &account); err != nil || account.Slug != "acme" {
		t.Errorf("the app was told account=%q; want acme's", claims["account"])
	}
	// Claim headers a client sends itself do not reach the app:
	// mod_auth_openidc puts its own in their place.
	forge := func(headers network.Headers) {
		t.Helper()
		if _, err := chromedp.Call(browser, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: headers}); err != nil {
			t.Fatal(err)
		}
	}
	forge(network.Headers{"OIDC_CLAIM_email": "mallory@evil.example", "OIDC_CLAIM_role": "owner"})
	do("a page asked for with forged claim headers", chromedp.Navigate(appOrigin+"/wiki/other"), chromedp.WaitVisible(`#claims`))
	forge(network.Headers{})
	if forged := claimsShown(); forged["email"] != "pat@acme.example" || forged["role"] != "member" {
		t.Errorf("with forged headers the app was told email=%q role=%q; want admit's", forged["email"], forged["role"])
	}

	// Sign-out at mod_auth_openidc's logout URL: it ends its session and
	// sends the browser to admit's end_session with the ID token as
	// id_token_hint, which vouches for this browser's admit session: that
	// ends too, unasked, and the browser lands where the app said.
	do("sign-out through Apache",
		chromedp.Navigate(appOrigin+"/redirect_uri?logout="+url.QueryEscape(appOrigin+"/signed-out")),
		chromedp.WaitVisible(`#signed-out`),
	)
	// Both sessions ended: Apache sends the browser to admit, and admit
	// asks for the sign-in.
	do("the page after the sign-out",
		chromedp.Navigate(appOrigin+"/wiki/page"),
		chromedp.WaitVisible(`#email`),
	)
	if where := browserAt(browser); !strings.HasPrefix(where, admitOrigin+"/login") {
		t.Errorf("after the sign-out the page went to %s; want admit's sign-in", where)
	}

	// Back-channel logout: Pat signs in again, and on another device (a
	// browser context of its own: its own cookies), which is a session of
	// its own at admit and at Apache. An admin ends their sessions in
	// acme: admit posts a logout token for each session to
	// mod_auth_openidc's back-channel endpoint, which ends both of Apache's
	// sessions: the next request of each goes to admit, not to the app.
	signIn := func(b context.Context, step string) {
		t.Helper()
		doIn(b, step,
			chromedp.WaitVisible(`#email`),
			chromedp.SendKeys(`#email`, "pat@acme.example"),
			chromedp.Click(`button[type=submit]`),
			chromedp.WaitVisible(`#signing-in-as`),
			chromedp.SendKeys(`#password`, "a phrase only pat knows"),
			chromedp.Click(`button[type=submit]`),
			chromedp.WaitVisible(`#claims`),
		)
	}
	signIn(browser, "the sign-in again")
	if got := claimsShown()["email"]; got != "pat@acme.example" {
		t.Fatalf("signed in again, the app was told email=%q", got)
	}
	other, cancelOther := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancelOther()
	if err := chromedp.Do(other); err != nil {
		t.Fatal(err)
	}
	doIn(other, "the other device", chromedp.Navigate(appOrigin+"/wiki/page"))
	signIn(other, "the sign-in on the other device")
	cli("", "user", "sign-out", "--account", "acme", "--email", "pat@acme.example")
	for deadline := time.Now().Add(20 * time.Second); strings.Count(s.logs.String(), `msg="back-channel logout delivered"`) < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no back-channel logout for each of the two sessions delivered to Apache\n%s", s.logs)
		}
	}
	for _, b := range []struct {
		name string
		ctx  context.Context
	}{{"this browser", browser}, {"the other device", other}} {
		doIn(b.ctx, "the page after the back-channel logout on "+b.name,
			chromedp.Navigate(appOrigin+"/wiki/page"),
			chromedp.WaitVisible(`#email`),
		)
		if where := browserAt(b.ctx); !strings.HasPrefix(where, admitOrigin+"/login") {
			t.Errorf("after the back-channel logout the page on %s went to %s; want admit's sign-in", b.name, where)
		}
	}

	if c := apacheComplaints(t, dir); len(c) > 0 {
		t.Errorf("mod_auth_openidc complained:\n%s", strings.Join(c, "\n"))
	}
	s.stop(t)
}
