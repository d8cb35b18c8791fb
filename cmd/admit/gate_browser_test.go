package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/admit-dev/admit/store/storetest"
)

// A person in a real browser opens an app behind nginx, is sent to sign
// in on the app's host, and arrives at the app, which reads who they are.
func TestForwardAuthThroughNginxInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	app := newUpstreamApp(t)
	admitAddr, nginxAddr := freeAddr(t), freeAddr(t)
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), "ADMIT_BASE_URL=http://" + admitAddr, "ADMIT_ADDR=" + admitAddr, testKey}
	gateSetup(t, settings, nginxAddr)
	s := startServer(t, t.TempDir(), settings...)
	startNginx(t, nginxAddr, admitAddr, strings.TrimPrefix(app.URL, "http://"))
	origin := "http://" + nginxAddr

	if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/docs?x=1"), chromedp.WaitVisible(`#email`)); err != nil {
		t.Fatalf("browser: %v\n%s", err, s.logs)
	}
	loginURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`#email`, "pat@acme.example"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#password`, "initial password given"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#current`),
		chromedp.SendKeys(`#current`, "initial password given"),
		chromedp.SendKeys(`#password`, "a phrase only pat knows"),
		chromedp.SendKeys(`#confirm`, "a phrase only pat knows"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#current-account`),
		chromedp.Navigate(origin+"/docs?x=1"),
	)
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, s.logs)
	}
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if want := origin + "/login?return_to=%2Fdocs%3Fx%3D1"; loginURL != want {
		t.Errorf("sign-in at %q; want %q", loginURL, want)
	}
	seen := identityOf(t, body)
	if seen["X-Admit-Email"] != "pat@acme.example" || seen["X-Admit-Account"] != "acme" {
		t.Errorf("the app saw %v; want pat in acme", seen)
	}
}
