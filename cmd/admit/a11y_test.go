package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/admit-dev/admit/npmtest"
	"github.com/admit-dev/admit/store/storetest"
)

// The accessibility check: axe-core, from the npm registry at the version
// testdata/axe/package-lock.json pins, run inside headless Chromium on the
// pages people use to sign in and to choose a password. A violation of
// impact serious or critical under WCAG 2.0 and 2.1, levels A and AA
// (axe's tags wcag2a, wcag2aa, wcag21a, wcag21aa), fails the test.

const axeDir = "testdata/axe"

// axeRules are the axe-core rule sets the check runs.
var axeRules = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// axeScript returns axe.min.js of the locked axe-core (see npmtest).
func axeScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(npmtest.Install(t, axeDir), "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// axeViolation is one failed axe rule, with the elements that fail it.
type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// checkAccessibility runs axe on the page the browser shows and fails the
// test for each serious or critical violation; lesser ones are logged.
// axe goes in through the DevTools protocol (Runtime.evaluate), which the
// page's Content-Security-Policy does not govern.
func checkAccessibility(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe === "object" || (function () {`+axe+"\n})() || true")); err != nil {
		t.Fatalf("%s: injecting axe-core: %v", page, err)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](fmt.Sprintf(`axe.run(document, {
  runOnly: {type: "tag", values: %s},
  resultTypes: ["violations"]
}).then(function (r) {
  return r.violations.map(function (v) {
    return {ID: v.id, Impact: v.impact || "", Help: v.help, Nodes: v.nodes.map(function (n) { return n.target.join(" ") + ": " + n.failureSummary; })};
  });
})`, axeRulesJS()), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: running axe-core: %v", page, err)
	}
	for _, v := range violations {
		msg := fmt.Sprintf("%s: axe %s (%s): %s\n\t%s", page, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Error(msg)
		} else {
			t.Log(msg)
		}
	}
}

// axeRulesJS is axeRules as a JavaScript array literal.
func axeRulesJS() string { return `["` + strings.Join(axeRules, `", "`) + `"]` }

// TestAccessibility runs axe on the sign-in page (both steps, and the
// second with an error), the password change page, the reset page and the
// invitation page, the last three after a password has been typed so that
// the rules under it are marked.
func TestAccessibility(t *testing.T) {
	t.Parallel()
	axe := axeScript(t)
	ctx := newBrowser(t)
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), "ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	s := startServer(t, t.TempDir(), settings...)
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), stdin, args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	cli("", "account", "create", "--slug", "acme", "--name", "Acme Inc")
	cli("", "account", "set-policy", "--account", "acme", "--min-length", "14", "--require", "digit")
	cli("initial password 1 given\n", "user", "add", "--account", "acme", "--email", "pat@acme.example", "--first", "Pat", "--last", "Q", "--password-stdin")

	step := func(page string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s", page, err, s.logs)
		}
		checkAccessibility(t, ctx, axe, page)
	}
	step("sign-in, first step",
		chromedp.Navigate(s.url+"/login"),
		chromedp.WaitVisible(`#email`))
	step("sign-in, second step",
		chromedp.SendKeys(`#email`, "pat@acme.example"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#password`))
	step("sign-in, second step with an error",
		chromedp.SendKeys(`#password`, "not the password"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`p[role=alert]`))
	step("password change",
		chromedp.SendKeys(`#password`, "initial password 1 given"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#current`),
		chromedp.SendKeys(`#password`, "short 1"))

	// The reset page, from the dev mailbox's link.
	step("reset request",
		chromedp.Navigate(s.url+"/password/reset"),
		chromedp.WaitVisible(`#email`))
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`#email`, "pat@acme.example"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`p[role=status]`)); err != nil {
		t.Fatalf("reset request: %v", err)
	}
	step("reset sent", chromedp.WaitVisible(`p[role=status]`))
	link := waitForMail(t, settings, "acme", "password_reset", s.url, resetPath)
	step("reset",
		chromedp.Navigate(link),
		chromedp.WaitVisible(`#confirm`),
		chromedp.SendKeys(`#password`, "long enough but no digit"))

	cli("", "invite", "create", "--account", "acme", "--email", "nia@acme.example")
	link = waitForMail(t, settings, "acme", "invitation", s.url, inviteLink)
	step("invitation",
		chromedp.Navigate(link),
		chromedp.WaitVisible(`#first_name`),
		chromedp.SendKeys(`#password`, "long enough with 1 digit"))
	// Nia joins, signed in from here on: an app's sign-out request that
	// nothing vouches for asks her first.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`#first_name`, "Nia"),
		chromedp.SendKeys(`#last_name`, "Long"),
		chromedp.SendKeys(`#confirm`, "long enough with 1 digit"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitNotPresent(`#confirm`)); err != nil {
		t.Fatalf("accepting the invitation: %v", err)
	}
	step("sign-out confirmation",
		chromedp.Navigate(s.url+"/oauth/end_session"),
		chromedp.WaitVisible(`form[action="/oauth/end_session/confirm"]`))
	s.stop(t)
}

// waitForMail waits (boundedly) for the newest email of kind in the
// account's dev mailbox and returns the link in it that pattern finds, on
// base.
func waitForMail(t *testing.T, settings []string, account, kind, base string, pattern *regexp.Regexp) string {
	t.Helper()
	env := append(cleanEnv(), settings...)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, m := range decode[[]mailJSON](t, admitWith(t, env, "", "mail", "list", "--account", account, "--json")) {
			if m.Kind != kind {
				continue
			}
			shown := admitWith(t, env, "", "mail", "show", "--account", account, "--id", m.ID)
			if path := pattern.FindString(shown.stdout); path != "" {
				return base + path
			}
		}
	}
	t.Fatalf("no %s email with a link in %s's mailbox", kind, account)
	return ""
}
