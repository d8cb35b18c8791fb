package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSSORequiredThroughServe: an account that requires SSO sends its
// people to the company sign-in from the password page, lets only owners use
// a break-glass password, and answers resets with an email pointing to SSO.
func TestSSORequiredThroughServe(t *testing.T) {
	t.Parallel()
	_, s, cli := oidcSite(t)
	cli("", "account", "create", "--slug", "bare", "--name", "Bare")
	if r := admitWith(t, append(cleanEnv(), s.settings...), "", "account", "set-policy", "--account", "bare", "--sso-required"); r.code != exitError || !strings.Contains(r.stderr, "no single sign-on connection") {
		t.Errorf("SSO required without a connection: exit %d, %q", r.code, r.stderr)
	}
	cli("pat's initial passphrase\n", "user", "add", "--account", "acme", "--email", "pat@example.com", "--first", "Pat", "--last", "Q", "--password-stdin")
	cli("the owner's own passphrase\n", "user", "add", "--account", "acme", "--email", "olga@example.com", "--first", "Olga", "--last", "W", "--role", "owner", "--password-stdin")
	cli("", "account", "set-policy", "--account", "acme", "--sso-required")

	noRedirect := browser(t)
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	signIn := func(email, password string) (*http.Response, string) {
		t.Helper()
		_, page := fetch(t, noRedirect, "GET", s.url+"/login", nil)
		form := url.Values{"csrf_token": {csrfField.FindStringSubmatch(page)[1]}, "email": {email}, "password": {password}}
		resp, err := noRedirect.PostForm(s.url+"/login", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := signIn("pat@example.com", "pat's initial passphrase")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `href="/sso/acme/login?connection=corp`) || strings.Contains(page, `type="password"`) {
		t.Errorf("member with the right password: %d; want the company sign-in step alone\n%s", resp.StatusCode, page)
	}
	if c := resp.Header.Get("Set-Cookie"); strings.Contains(c, "admit_session") {
		t.Errorf("a session cookie was set: %q", c)
	}

	cli("", "account", "set-policy", "--account", "acme", "--break-glass-owners")
	resp, page = signIn("pat@example.com", "pat's initial passphrase")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "single sign-on") || !strings.Contains(page, "Continue with Acme Inc") {
		t.Errorf("member with break-glass on: %d\n%s", resp.StatusCode, page)
	}
	resp, _ = signIn("olga@example.com", "the owner's own passphrase")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/password/change" {
		t.Errorf("owner's break-glass sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A reset for pat points to the company sign-in.
	_, page = fetch(t, noRedirect, "GET", s.url+"/password/reset", nil)
	status, page := fetch(t, noRedirect, "POST", s.url+"/password/reset", url.Values{"csrf_token": {csrfField.FindStringSubmatch(page)[1]}, "email": {"pat@example.com"}})
	if status != http.StatusOK || !strings.Contains(page, "Continue with Acme Inc") || !strings.Contains(page, `href="/sso/acme/login?connection=corp`) {
		t.Errorf("reset page for an SSO-required address: %d\n%s", status, page)
	}
	// The page answers before the mail is written (so that its timing
	// tells nothing): wait for it.
	r := admitWith(t, append(cleanEnv(), s.settings...), "", "mail", "list", "--account", "acme", "--json")
	for deadline := time.Now().Add(10 * time.Second); r.code == 0 && !strings.Contains(r.stdout, `"sso_sign_in"`) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		r = admitWith(t, append(cleanEnv(), s.settings...), "", "mail", "list", "--account", "acme", "--json")
	}
	if r.code != 0 || !strings.Contains(r.stdout, `"sso_sign_in"`) || strings.Contains(r.stdout, `"password_reset"`) {
		t.Errorf("mail after pat's reset request: %s %s", r.stdout, r.stderr)
	}
}
