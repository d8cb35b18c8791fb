package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/admit-dev/admit/sso/oidctest"
)

// TestEmailFirstInBrowser is the two-step sign-in in Chromium, without a
// line of script of its own: the email, then the password (with a way back
// to another email) or the account's SSO beside it, or the SSO alone once
// the account requires it. Along the way the password rules under a new
// password are marked met and unmet by symbol and word, and the count is
// announced; and no page breaks its Content-Security-Policy.
func TestEmailFirstInBrowser(t *testing.T) {
	t.Parallel()
	axe := axeScript(t)
	ctx := newBrowser(t)
	console := watchConsole(ctx)
	p, s, cli := oidcSite(t)
	p.AddUser(oidctest.User{Username: "nia", Email: "nia@example.com", EmailVerified: true, GivenName: "Nia", FamilyName: "Ng"})
	cli("", "account", "create", "--slug", "plain", "--name", "Plain Ltd", "--domain", "plain.example")
	cli("sams initial password\n", "user", "add", "--account", "plain", "--email", "sam@plain.example", "--first", "Sam", "--last", "Q", "--password-stdin")
	cli("the owners own passphrase\n", "user", "add", "--account", "acme", "--email", "olga@example.com", "--first", "Olga", "--last", "W", "--role", "owner", "--password-stdin")

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := browse(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\nat %s\n%s", what, err, browserAt(ctx), s.logs)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	has := func(selector string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector(`+jsString(selector)+`) !== null`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	do("the first step",
		chromedp.Navigate(s.url+"/login?return_to=/me"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "sam@plain.example"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#password`))
	if who, username := eval(`document.getElementById("signing-in-as").textContent`), eval(`document.querySelector("input[autocomplete=username]").value`); who != "sam@plain.example" || username != "sam@plain.example" {
		t.Errorf("the second step shows %q and keeps %q for password managers; want the email in both", who, username)
	}
	if has(`a.button`) {
		t.Error("a domain without SSO is offered one")
	}
	do("another email",
		chromedp.Click(`//a[text()="Use another email"]`),
		chromedp.WaitVisible(`#email`))
	if has(`#password`) || eval(`document.getElementById("email").value`) != "" {
		t.Error("Use another email did not go back to an empty first step")
	}
	do("the password",
		chromedp.SendKeys(`#email`, "sam@plain.example"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#password`, "sams initial password"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#current`)) // signed in, made to change the initial password

	// The password rules, as the person types (the default policy: 12
	// characters, which the script checks, and two rules the server checks).
	rules := func() string {
		t.Helper()
		return eval(`Array.from(document.querySelectorAll("#password-rules li")).map(function (li) { return li.textContent; }).join(" | ")`)
	}
	announced := func() string { t.Helper(); return eval(`document.getElementById("password-rules-status").textContent`) }
	do("typing a short password", chromedp.SendKeys(`#password`, "too short"))
	const unmet = "✗at least 12 characters (not met yet) | •not a commonly used password (checked when you submit) | •not containing your email address (checked when you submit)"
	if got := rules(); got != unmet {
		t.Errorf("rules for a short password:\n%s\nwant\n%s", got, unmet)
	}
	if got := announced(); got != "" {
		t.Errorf("announced %q while no rule changed; want nothing", got)
	}
	do("typing on", chromedp.SendKeys(`#password`, " no more"))
	if got, want := rules(), strings.Replace(unmet, "✗at least 12 characters (not met yet)", "✓at least 12 characters (met)", 1); got != want {
		t.Errorf("rules for a long password:\n%s\nwant\n%s", got, want)
	}
	if got := announced(); got != "1 of 1 rules met" {
		t.Errorf("announced %q; want %q", got, "1 of 1 rules met")
	}
	if live := eval(`document.getElementById("password-rules-status").getAttribute("aria-live")`); live != "polite" {
		t.Errorf("the announcement's aria-live is %q; want polite", live)
	}

	// Nia's address is in acme's domain: its SSO is offered beside the
	// password form, and signs her in.
	do("signing out",
		chromedp.Navigate(s.url+"/logout"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`//a[text()="Sign in again"]`),
		chromedp.Navigate(s.url+"/login"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "nia@example.com"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`a.button`))
	if text := eval(`document.querySelector("a.button").textContent`); text != "Continue with Acme Inc" || !has(`#password`) {
		t.Errorf("SSO offered: button %q, password form %v; want Continue with Acme Inc beside the password form", text, has(`#password`))
	}
	checkAccessibility(t, ctx, axe, "sign-in, second step with SSO offered")
	do("SSO",
		chromedp.Click(`a.button`),
		chromedp.WaitVisible(`#username`), // the provider's login page
		chromedp.SendKeys(`#username`, "nia"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#current-account`))
	expectSignedIn(t, ctx, "Acme Inc", "nia@example.com")

	// Once acme requires SSO, the second step offers only that.
	cli("", "account", "set-policy", "--account", "acme", "--sso-required")
	do("SSO required",
		chromedp.Navigate(s.url+"/logout"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`//a[text()="Sign in again"]`),
		chromedp.Navigate(s.url+"/login"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "nia@example.com"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`a.button`))
	if has(`#password`) || has(`details`) {
		t.Error("SSO required, and the second step still has a password form")
	}
	checkAccessibility(t, ctx, axe, "sign-in, second step with SSO required")

	// With break-glass owners, the second step keeps a folded password
	// form, which opens without script and signs an owner in.
	cli("", "account", "set-policy", "--account", "acme", "--break-glass-owners")
	do("break-glass",
		chromedp.Navigate(s.url+"/login?email=olga%40example.com"),
		chromedp.WaitVisible(`a.button`),
		chromedp.Click(`details.break-glass summary`),
		chromedp.WaitVisible(`#password`))
	checkAccessibility(t, ctx, axe, "sign-in, second step with SSO required and break-glass owners")
	do("break-glass sign-in",
		chromedp.SendKeys(`#password`, "the owners own passphrase"),
		chromedp.Click(`details.break-glass button[type=submit]`),
		chromedp.WaitVisible(`#current`)) // signed in, made to change the initial password
	if problems := console.problems(ctx, s.url); len(problems) > 0 {
		t.Errorf("console problems:\n%s", strings.Join(problems, "\n"))
	}
	s.stop(t)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
