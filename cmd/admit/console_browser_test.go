package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/admit-dev/admit/store/storetest"
)

// TestConsoleInBrowser: through admit serve, an owner signs in to the
// console in Chromium and adds a person, invites another, resends the
// invitation (to one, then to everyone who never signed in), changes a role
// and deactivates; axe-core finds no serious or critical violation on the
// console's pages, and the pages log no error and no CSP violation. Every
// change is audited with the owner as actor.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	axe := axeScript(t)
	ctx := newBrowser(t)
	console := watchConsole(ctx)
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), testKey}
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
	cli("first password given 42\n", "user", "add", "--account", "acme", "--email", "olive@acme.example", "--first", "Olive", "--last", "Owner", "--role", "owner", "--password-stdin")

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, s.logs)
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

	// Signed out, the console sends Olive to sign in; her initial password
	// must be changed first.
	do("sign in",
		chromedp.Navigate(s.url+"/admin/acme/users"),
		firstSignIn("olive@acme.example", "first password given 42", "her own long passphrase 7"),
		// The password changed, the browser goes on where it was going.
		chromedp.WaitVisible(`#people`))
	checked("Users")
	if got := text(`#count`); !strings.Contains(got, "1 person") {
		t.Errorf("Users count: %q", got)
	}

	// Add a person with an invitation (the form's default).
	do("add user",
		chromedp.Click(`a[href="/admin/acme/users/new"]`),
		chromedp.WaitVisible(`#how-invite`))
	checked("Add user")
	// The initial password shows only while it is the chosen way
	// (add-user.js, under the page's CSP); one typed and then left for an
	// invitation is not sent, so the invitation goes.
	shown := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
			const f = document.getElementById("password-fields"), p = document.getElementById("password");
			return (f.offsetParent === null ? "hidden" : "shown") + "," + (p.disabled ? "disabled" : "enabled");
		})()`))
		if err != nil {
			t.Fatalf("the password's state: %v", err)
		}
		return v
	}
	if got := shown(); got != "hidden,disabled" {
		t.Errorf("the password with an invitation chosen: %s; want hidden,disabled", got)
	}
	do("choose a password", chromedp.Click(`#how-password`), chromedp.WaitVisible(`#password`), chromedp.SendKeys(`#password`, "typed then left"))
	if got := shown(); got != "shown,enabled" {
		t.Errorf("the password once chosen: %s; want shown,enabled", got)
	}
	do("choose single sign-on", chromedp.Click(`#how-sso`))
	if got := shown(); got != "hidden,disabled" {
		t.Errorf("the password with single sign-on chosen: %s; want hidden,disabled", got)
	}
	do("back to the invitation", chromedp.Click(`#how-invite`))
	do("add user",
		chromedp.SendKeys(`#email`, "nia@acme.example"),
		chromedp.SendKeys(`#first_name`, "Nia"),
		chromedp.SendKeys(`#last_name`, "Ng"),
		chromedp.Click(`#add`),
		chromedp.WaitVisible(`#done-invited`))
	if got := text(`#status`); got != "Invited" {
		t.Errorf("Nia's status after adding: %q", got)
	}
	checked("a person")

	// A mistake (Nia is already here) keeps what was typed and says what
	// is wrong.
	do("add user with a mistake",
		chromedp.Click(`a[href="/admin/acme/users/new"]`),
		chromedp.WaitVisible(`#how-password`),
		chromedp.SendKeys(`#email`, "nia@acme.example"),
		chromedp.SendKeys(`#first_name`, "Max"),
		chromedp.SendKeys(`#last_name`, "M"),
		chromedp.Click(`#how-sso`),
		chromedp.Click(`#add`),
		chromedp.WaitVisible(`div.problems`))
	checked("Add user with a mistake")

	// Invite Joe, resend his invitation, make him an admin. He has not
	// accepted: his page offers to revoke the invitation, not to
	// deactivate him.
	do("invite",
		chromedp.Click(`a[href="/admin/acme/invite"]`),
		chromedp.WaitVisible(`#invite`))
	checked("Invite")
	do("invite",
		chromedp.SendKeys(`#email`, "joe@acme.example"),
		chromedp.Click(`#invite`),
		chromedp.WaitVisible(`#resend`),
		chromedp.Click(`#resend`),
		chromedp.WaitVisible(`#done-resent`))
	if got := text(`#done-resent`); !strings.Contains(got, "sent again") {
		t.Errorf("after resending: %q", got)
	}
	do("change role",
		chromedp.SetValue(`#new-role`, "admin"),
		chromedp.Click(`#change-role`),
		chromedp.WaitVisible(`#done-role`))
	if got := text(`#role`); got != "admin" {
		t.Errorf("Joe's role: %q; want admin", got)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#deactivate, #reset, #end-sessions").length + (document.querySelector("#revoke") ? 0 : 10)`)); err != nil || n != 0 {
		t.Errorf("Joe's page (invited) offers deactivate, reset or end sessions, or no revoke (%d, %v)", n, err)
	}
	checked("an invited person")

	// Add Sam with an initial password, and deactivate him.
	do("add with a password",
		chromedp.Click(`a[href="/admin/acme/users/new"]`),
		chromedp.WaitVisible(`#how-password`),
		chromedp.SendKeys(`#email`, "sam@acme.example"),
		chromedp.SendKeys(`#first_name`, "Sam"),
		chromedp.SendKeys(`#last_name`, "Stone"),
		chromedp.Click(`#how-password`),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#password`, "sam's first password 42"),
		chromedp.Click(`#add`),
		chromedp.WaitVisible(`#done-added-password`))
	do("deactivate",
		chromedp.Click(`#deactivate`),
		chromedp.WaitVisible(`#reactivate`))
	if got := text(`#status`); got != "Deactivated" {
		t.Errorf("Sam's status: %q; want Deactivated", got)
	}
	checked("a deactivated person, with the audit trail")

	// Resend to everyone who never signed in: Nia and Joe.
	do("resend to everyone",
		chromedp.Navigate(s.url+"/admin/acme/users"),
		chromedp.WaitVisible(`#people`),
		chromedp.Click(`a[href="/admin/acme/users/resend"]`),
		chromedp.WaitVisible(`#confirm-resend`))
	checked("Resend confirmation")
	if got := text(`#resend-count`); !strings.HasPrefix(got, "2 invited people have never signed in") {
		t.Errorf("resend count: %q", got)
	}
	do("resend to everyone", chromedp.Click(`#confirm-resend`), chromedp.WaitVisible(`#done`))
	if got := text(`#done`); got != "Done for 2 people:" {
		t.Errorf("after resending to everyone: %q", got)
	}
	if got := text(`#done-list`); !strings.Contains(got, "joe@acme.example") || !strings.Contains(got, "nia@acme.example") {
		t.Errorf("resent to: %q; want Joe and Nia", got)
	}

	// A keyboard-only pass through Users: Tab reaches every control in
	// order, each shows where the focus is, and Enter and typing work them.
	do("keyboard", chromedp.Navigate(s.url+"/admin/acme/users"), chromedp.WaitVisible(`#people`))
	type focused struct {
		Key     string `json:"key"`
		Visible bool   `json:"visible"`
	}
	focus := func() focused {
		t.Helper()
		f, err := chromedp.Run(ctx, chromedp.Evaluate[focused](`(() => {
			const e = document.activeElement, s = getComputedStyle(e);
			return {key: e.id || e.getAttribute("href") || e.getAttribute("aria-label") || e.tagName,
				visible: (s.outlineStyle !== "none" && s.outlineWidth !== "0px") || s.boxShadow !== "none"};
		})()`))
		if err != nil {
			t.Fatalf("focused element: %v", err)
		}
		return f
	}
	var order []string
	for range 80 {
		do("tab", chromedp.KeyEvent(kb.Tab))
		f := focus()
		if f.Key == "BODY" || (len(order) > 0 && f.Key == order[0]) {
			break // round the page once
		}
		if !f.Visible {
			t.Errorf("keyboard focus on %s shows no focus indicator", f.Key)
		}
		order = append(order, f.Key)
	}
	at := func(key string) int { return slices.Index(order, key) }
	for _, want := range []string{"q", "status", "source", "never", "/admin/acme/users/resend", "Select joe@acme.example", "action", "apply"} {
		if at(want) < 0 {
			t.Errorf("Tab never reaches %s; the order was %v", want, order)
		}
	}
	if !(at("q") < at("status") && at("status") < at("Select joe@acme.example") && at("Select joe@acme.example") < at("apply")) {
		t.Errorf("Tab order does not follow the page: %v", order)
	}
	// Search by typing and Enter, then open Joe from the keyboard.
	do("keyboard search", chromedp.Focus(`#q`), chromedp.KeyEvent("joe\r"), chromedp.WaitVisible(`input#q[value="joe"]`))
	if got := text(`#people tbody`); !strings.Contains(got, "joe@acme.example") || strings.Contains(got, "nia@") {
		t.Errorf("searched by keyboard: %q", got)
	}
	do("keyboard open", chromedp.Focus(`#people tbody a`), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(`#resend`))

	// The filters, without script: a GET form.
	do("filter",
		chromedp.Navigate(s.url+"/admin/acme/users"),
		chromedp.WaitVisible(`#people`),
		chromedp.SetValue(`#status`, "deactivated"),
		chromedp.Click(`form[role=search] button[type=submit]`),
		chromedp.WaitReady(`#status option[value=deactivated][selected]`))
	if got := text(`#people tbody`); !strings.Contains(got, "sam@acme.example") || strings.Contains(got, "nia@") {
		t.Errorf("deactivated people: %q", got)
	}
	do("roles", chromedp.Click(`a[href="/admin/acme/roles"]`), chromedp.WaitVisible(`#permissions`))
	checked("Roles")

	if problems := console.problems(ctx, s.url); len(problems) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(problems, "\n"))
	}

	// Each change names Olive.
	var events []struct {
		Action string `json:"action"`
		Actor  struct {
			Source string `json:"source"`
			Name   string `json:"name"`
		} `json:"actor"`
	}
	r := cli("", "audit", "list", "--account", "acme", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &events); err != nil {
		t.Fatalf("audit list: %v: %s", err, r.stdout)
	}
	byOlive := map[string]int{}
	for _, e := range events {
		if e.Actor.Source == "admin" && e.Actor.Name == "olive@acme.example" {
			byOlive[e.Action]++
		}
	}
	for action, n := range map[string]int{"invitation.created": 2, "invitation.resent": 3, "membership.role_changed": 1, "membership.deactivated": 1} {
		if byOlive[action] != n {
			t.Errorf("%s by Olive: %d; want %d (all: %v)", action, byOlive[action], n, byOlive)
		}
	}
	s.stop(t)
}
