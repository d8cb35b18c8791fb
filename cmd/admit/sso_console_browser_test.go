package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/admit-dev/admit/store/storetest"
)

// TestSSOConsoleInBrowser: through admit serve, an admin adds a SAML
// connection in the console from the metadata URL of crewjam's samlidp
// (fetched through the guarded client), reads the values to paste (the
// copy buttons come from copy.js, under the CSP), and runs Test sign-in
// against the IdP: the result page shows what arrived and what a real
// sign-in would do, and nobody was added. axe-core finds no serious or
// critical violation on the Single sign-on pages, which log no error and
// no CSP violation.
func TestSSOConsoleInBrowser(t *testing.T) {
	t.Parallel()
	axe := axeScript(t)
	ctx := newBrowserFor(t, 5*time.Minute)
	console := watchConsole(ctx)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	base := "http://localhost:" + port
	idp := samlIdP(t)
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), testKey, "ADMIT_ADDR=" + addr, "ADMIT_BASE_URL=" + base, allowLoopback}
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), stdin, args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	cli("", "account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "example.com")
	cli("first password given 42\n", "user", "add", "--account", "acme", "--email", "ada@example.com", "--first", "Ada", "--last", "Admin", "--role", "owner", "--password-stdin")
	s := startServer(t, t.TempDir(), settings...)

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v; the browser is at %s\n%s", what, err, browserAt(ctx), s.logs)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	checked := func(page string) {
		t.Helper()
		checkAccessibility(t, ctx, axe, page)
	}

	do("sign in",
		chromedp.Navigate(base+"/admin/acme/sso"),
		firstSignIn("ada@example.com", "first password given 42", "her own long passphrase 7"),
		// The password changed, the browser goes on where it was going.
		chromedp.WaitVisible(`#no-connections`))
	checked("Single sign-on, no connections")

	do("add SAML",
		chromedp.Click(`#add-saml`),
		chromedp.WaitVisible(`#metadata_url`))
	checked("Add a SAML connection")
	do("add SAML",
		chromedp.SendKeys(`#name`, "okta"),
		chromedp.SetValue(`#idp`, "okta"),
		chromedp.SendKeys(`#metadata_url`, idp.URL+"/metadata"),
		chromedp.Click(`#add-connection`),
		chromedp.WaitVisible(`#values`),
		chromedp.WaitVisible(`button[data-copy="acs-url"]`)) // shown by copy.js
	checked("a connection, with the values and setup steps")
	if got := text(`#acs-url`); got != base+"/sso/acme/saml/okta/acs" {
		t.Errorf("ACS URL on the page: %q", got)
	}
	if got := text(`#state`); !strings.HasPrefix(got, "Ready") {
		t.Errorf("state: %q", got)
	}
	if got := text(`#steps`); !strings.Contains(got, "Okta Admin Console") {
		t.Errorf("setup steps: %q", got)
	}
	// A checkbox outside a fieldset sits before its text, as those inside
	// do (it was a box as wide as the form, above a bold label).
	inline, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const box = document.getElementById("allow_idp_initiated").getBoundingClientRect();
		const label = document.getElementById("allow_idp_initiated").closest("label").getBoundingClientRect();
		return box.width < 40 && box.left - label.left < 10 && box.top < label.bottom;
	})()`))
	if err != nil || !inline {
		t.Errorf("the idp-initiated checkbox is not inline with its label (%v)", err)
	}

	// The IdP's admin pastes admit's values (here: samlidp reads the SP
	// metadata), and bob exists there.
	put(t, idp.URL+"/services/okta", "application/xml", getBody(t, base+"/sso/acme/saml/okta/metadata"))
	putIdPUser(t, idp.URL, "bob", "bob@example.com", "Bob", "Bell", "Engineering")

	// Test sign-in opens a new tab; the test follows its link in this one.
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(`#test-sign-in`, "href"))
	if err != nil || !link.Exists {
		t.Fatalf("test link: %v", err)
	}
	if target, _ := chromedp.Run(ctx, chromedp.AttributeValue(`#test-sign-in`, "target")); target.Value != "_blank" {
		t.Errorf("the test link opens in %q, want a new tab", target.Value)
	}
	do("test sign-in",
		chromedp.Navigate(base+link.Value),
		chromedp.WaitVisible(`input[name=user]`),
		chromedp.SendKeys(`input[name=user]`, "bob"),
		chromedp.SendKeys(`input[name=password]`, "pw-bob"),
		chromedp.Evaluate[chromedp.Void](`document.forms[0].action = location.origin + "/sso"`),
		chromedp.Click(`input[type=submit]`),
		chromedp.WaitVisible(`#test-outcome`))
	checked("Test sign-in result")
	if got := text(`#test-outcome`); !strings.Contains(got, "bob@example.com may sign in") {
		t.Errorf("test outcome: %q", got)
	}
	if got := text(`#test-would`); !strings.Contains(got, "would create this person") {
		t.Errorf("what a sign-in would do: %q", got)
	}
	if got := text(`#test-claims`); !strings.Contains(got, "Engineering") {
		t.Errorf("claims: %q", got)
	}
	// Nobody was added, and Ada is still herself in this browser.
	var members struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(cli("", "user", "list", "--account", "acme", "--json").stdout), &members); err != nil || members.Total != 1 {
		t.Errorf("members after the test: %d (%v); want Ada alone", members.Total, err)
	}
	do("still Ada", chromedp.Navigate(base+"/admin/acme/sso/connections/okta/attempts"), chromedp.WaitVisible(`#attempts`))
	checked("Sign-in attempts")
	do("roles", chromedp.Navigate(base+"/admin/acme/sso/roles"), chromedp.WaitVisible(`#no-mappings`))
	checked("Groups and roles")
	do("map a group",
		chromedp.SendKeys(`#group`, "Engineering"),
		chromedp.SetValue(`#map-role`, "admin"),
		chromedp.Click(`#map-group`),
		chromedp.WaitVisible(`#mappings`))
	do("remove page", chromedp.Navigate(base+"/admin/acme/sso/connections/okta/remove"), chromedp.WaitVisible(`#confirm-remove`))
	checked("Remove a connection")
	do("list", chromedp.Navigate(base+"/admin/acme/sso"), chromedp.WaitVisible(`#connections`))
	checked("Single sign-on, one connection")

	if problems := console.problems(ctx, base); len(problems) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(problems, "\n"))
	}
	s.stop(t)
}
