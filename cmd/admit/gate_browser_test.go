package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/admit-dev/admit/store/storetest"
)

// People in a real browser open an app behind nginx on its own host
// (localhost, while admit is on 127.0.0.1: each keeps its own cookies),
// are sent to sign in on admit's host and handed back, and the app reads
// who they are: by password (with the forced change, then again as a form
// post whose redirects the sign-in page's CSP must allow), and through the
// account's SAML single sign-on, which ends on admit's host.
func TestForwardAuthThroughNginxInBrowser(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	app := newUpstreamApp(t)
	idp := samlIdP(t)
	admitAddr, nginxAddr := freeAddr(t), freeAddr(t)
	admitOrigin := "http://" + admitAddr
	appHost := "localhost:" + portOf(t, nginxAddr)
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), "ADMIT_BASE_URL=" + admitOrigin, "ADMIT_ADDR=" + admitAddr, testKey, allowLoopback}
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), stdin, args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	cli("", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "example.com")
	cli("initial password given\n", "user", "add", "--account", "acme", "--email", "pat@acme.example", "--first", "Pat", "--last", "Q", "--role", "admin", "--password-stdin")
	cli("", "app", "add", "--name", "Wiki", "--forward-auth-host", appHost, "--account", "acme")
	cli("", "sso", "add-saml", "--account", "acme", "--name", "okta", "--metadata-url", idp.URL+"/metadata")
	s := startServer(t, t.TempDir(), settings...)
	put(t, idp.URL+"/services/admit", "application/xml", getBody(t, s.url+"/sso/acme/saml/okta/metadata"))
	putIdPUser(t, idp.URL, "nia", "nia@example.com", "Nia", "Ng")
	startNginx(t, nginxAddr, appHost, admitAddr, strings.TrimPrefix(app.URL, "http://"))
	origin := "http://" + appHost

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v; the browser is at %s\n%s", step, err, browserAt(ctx), s.logs)
		}
	}
	seenByApp := func(step string) map[string]string {
		t.Helper()
		// The last step may have started a chain of redirects and posts
		// (the IdP's answer to the ACS, the hand-off): wait for its end.
		for deadline := time.Now().Add(30 * time.Second); ; {
			if at, err := chromedp.Run(ctx, chromedp.Location()); err == nil && at == origin+"/docs?x=1" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the browser is at %s; want the app's page\n%s", step, browserAt(ctx), s.logs)
			}
			time.Sleep(100 * time.Millisecond)
		}
		do(step, chromedp.WaitVisible(`body`))
		body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil {
			t.Fatal(err)
		}
		return identityOf(t, body)
	}
	signedOut := func() {
		t.Helper()
		if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
	}

	do("pat's first sign-in",
		chromedp.Navigate(origin+"/docs?x=1"),
		chromedp.WaitVisible(`#email`))
	if at, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(at, admitOrigin+"/login?return_to=%2Flogin%2Fhandoff") {
		t.Errorf("sign-in at %s; want admit's host, returning to the hand-off", browserAt(ctx))
	}
	do("pat's first sign-in",
		chromedp.SendKeys(`#email`, "pat@acme.example"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#password`, "initial password given"),
		// The page asking to change the password has a #password too: the
		// one signed in from is marked, and the fields are those of the
		// page without the mark (Chromium 156 otherwise typed, once in a
		// while, into a node of the page just left).
		chromedp.Evaluate[chromedp.Void](`document.body.dataset.clicked = "yes"`),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`body:not([data-clicked]) #current`),
		chromedp.SendKeys(`#current`, "initial password given"),
		chromedp.SendKeys(`#password`, "a phrase only pat knows"),
		chromedp.SendKeys(`#confirm`, "a phrase only pat knows"),
		// The password changed, the hand-off goes on to the app (the
		// form's CSP form-action allows the app's host).
		chromedp.Click(`button[type=submit]`))
	if seen := seenByApp("pat, back in the app after changing the password"); seen["X-Admit-Email"] != "pat@acme.example" || seen["X-Admit-Account"] != "acme" || seen["admit_session cookie"] != "" {
		t.Errorf("the app saw %v; want pat in acme, without admit's cookie", seen)
	}

	signedOut()
	do("pat's password sign-in",
		chromedp.Navigate(origin+"/docs?x=1"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "pat@acme.example"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#password`, "a phrase only pat knows"),
		chromedp.Click(`button[type=submit]`))
	if seen := seenByApp("pat's password sign-in"); seen["X-Admit-Email"] != "pat@acme.example" {
		t.Errorf("the app saw %v; want pat", seen)
	}

	signedOut()
	do("nia's SAML sign-in",
		chromedp.Navigate(origin+"/docs?x=1"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "nia@example.com"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`a.button`),
		chromedp.Click(`a.button`),
		chromedp.WaitVisible(`input[name=user]`), // the IdP's login form
		chromedp.SendKeys(`input[name=user]`, "nia"),
		chromedp.SendKeys(`input[name=password]`, "pw-nia"),
		// samlidp's form posts to its /login, which only opens an IdP
		// session; posted to /sso, the same fields answer the request.
		chromedp.Evaluate[chromedp.Void](`document.forms[0].action = location.origin + "/sso"`),
		chromedp.Click(`input[type=submit]`))
	if seen := seenByApp("nia's SAML sign-in"); seen["X-Admit-Email"] != "nia@example.com" || seen["X-Admit-Account"] != "acme" || seen["X-Admit-Name"] != "Nia Ng" {
		t.Errorf("the app saw %v; want nia in acme", seen)
	}
}
