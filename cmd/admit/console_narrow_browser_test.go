package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/store/storetest"
)

// TestConsoleOnAPhone: through admit serve, in Chromium 375 pixels wide
// (a phone), no console page is wider than the screen, with a long
// account name, a long unbroken address as a heading, a bounced
// invitation and a single sign-on connection's values to paste; the Users
// table does not scroll sideways but shows each person's cells under
// their address, each named; and
// "Skip to content", the first thing the keyboard reaches, passes the
// header and the console's navigation.
//
// With ADMIT_SCREENSHOTS=DIR, it saves each page there as
// console-phone-PAGE.png, and the pages this work changed at desktop
// width.
func TestConsoleOnAPhone(t *testing.T) {
	t.Parallel()
	ctx := newBrowserFor(t, 5*time.Minute)
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
	const slug = "versicherungsgesellschaft"
	base := "/admin/" + slug
	cli("", "account", "create", "--slug", slug, "--name", "Internationale Versicherungsgesellschaft Aktiengesellschaft")
	cli("first password given 42\n", "user", "add", "--account", slug, "--email", "olive@versicherung.example", "--first", "Olive", "--last", "Owner", "--role", "owner", "--password-stdin")
	cli("", "sso", "add-saml", "--account", slug, "--name", "entra-id-production", "--metadata-file", idpMetadataFile(t))
	long := "maximilian.alexander.hohenzollern-sigmaringen@personalabteilung.versicherung.example"
	cli("", "invite", "create", "--account", slug, "--email", long)

	// The mail provider reports that the invitation bounced.
	var id string
	for _, m := range decode[[]mailJSON](t, cli("", "mail", "list", "--account", slug, "--json")) {
		if m.To == long {
			id = m.ID
		}
	}
	secret := strings.TrimSpace(cli("", "mail", "bounce-secret").stdout)
	body := fmt.Sprintf(`{"message_id":"<%s@localhost>","recipient":%q,"reason":"550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table"}`, id, long, long)
	req, _ := http.NewRequest("POST", s.url+"/hooks/mail-bounce", strings.NewReader(body))
	now := time.Now().Unix()
	req.Header.Set("X-Admit-Timestamp", strconv.FormatInt(now, 10))
	req.Header.Set("X-Admit-Signature", mail.Sign([]byte(secret), now, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("bounce report: %v %v", resp, err)
	}
	resp.Body.Close()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v; the browser is at %s\n%s", what, err, browserAt(ctx), s.logs)
		}
	}
	do("sign in at phone width",
		chromedp.EmulateViewport(375, 812),
		chromedp.Navigate(s.url+base+"/users"),
		firstSignIn("olive@versicherung.example", "first password given 42", "her own long passphrase 7"),
		chromedp.WaitVisible(`#people`))
	person, err := chromedp.Run(ctx, chromedp.AttributeValue(`#people a[href*="/users/"]`, "href"))
	if err != nil {
		t.Fatal(err)
	}

	// "Skip to content" is the first stop of the keyboard, and leads past
	// the console's navigation to the page's own content.
	do("skip link",
		chromedp.Navigate(s.url+base+"/users"),
		chromedp.WaitVisible(`#people`),
		chromedp.KeyEvent(kb.Tab))
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.textContent.trim() + " " + document.activeElement.getAttribute("href")`))
	if err != nil || focused != "Skip to content #content" {
		t.Errorf("the first Tab reaches %q (%v); want the Skip to content link", focused, err)
	}
	screenshot(t, ctx, "phone skip link")
	do("follow the skip link", chromedp.KeyEvent(kb.Enter))
	after, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
		const c = document.getElementById("content");
		return document.activeElement.id + " " + c.contains(document.querySelector("nav.console")) + " " + (c.querySelector("h1") !== null);
	})()`))
	if err != nil || after != "content false true" {
		t.Errorf("after the skip link: %q (%v); want the focus on #content, which holds the heading and not the navigation", after, err)
	}

	// No page is wider than the phone: document.scrollWidth is at most
	// the window's width (a wide table scrolls in its own box).
	for _, page := range []struct{ name, path, wait string }{
		{"users", "/users", "#people"},
		{"person bounced", person.Value, "#bounced"},
		{"add user", "/users/new", "#add"},
		{"invite", "/invite", "form"},
		{"security", "/security", "#save-security"},
		{"branding", "/branding", "#save-branding"},
		{"sso", "/sso", "h1"},
		{"sso connection", "/sso/connections/entra-id-production", "h1"},
		{"sso roles", "/sso/roles", "h1"},
		{"scim", "/scim", "#create-token"},
		{"domains", "/domains", "h1"},
		{"webhooks", "/webhooks", "h1"},
		{"mail", "/mail", "#mail"},
		{"audit", "/audit", "#events"},
		{"roles", "/roles", "h1"},
		{"imports", "/imports", "h1"},
	} {
		path := page.path
		if !strings.HasPrefix(path, "/admin/") {
			path = base + path
		}
		do(page.name, chromedp.Navigate(s.url+path), chromedp.WaitVisible(page.wait))
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
			const w = window.innerWidth, sw = document.documentElement.scrollWidth;
			if (sw <= w) { return ""; }
			// The widest elements that stick out, for the message.
			const out = [];
			for (const el of document.querySelectorAll("body *")) {
				const r = el.getBoundingClientRect();
				if (r.right > w + 1 && !el.closest(".table-wrap")) {
					out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).split(" ").join(".") : "") + " (" + Math.round(r.right) + "px)");
				}
			}
			return sw + "px wide on a " + w + "px screen: " + out.slice(0, 6).join(", ");
		})()`))
		if err != nil {
			t.Fatalf("%s: %v", page.name, err)
		}
		if wide != "" {
			t.Errorf("%s is %s", page.name, wide)
		}
		screenshot(t, ctx, "phone "+page.name)
	}

	// The Users table is read a person at a time: it does not scroll
	// sideways in its box either, every cell is on the screen after its
	// column's name, and the sortable headings stay.
	do("users, stacked", chromedp.Navigate(s.url+base+"/users"), chromedp.WaitVisible(`#people`))
	stacked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
		const table = document.getElementById("people"), wrap = table.closest(".table-wrap"), w = window.innerWidth;
		const out = [];
		if (wrap.scrollWidth > wrap.clientWidth + 1) { out.push("the table scrolls sideways: " + wrap.scrollWidth + "px in " + wrap.clientWidth + "px"); }
		for (const td of table.querySelectorAll("tbody td")) {
			const r = td.getBoundingClientRect();
			if (r.width > 0 && r.right > w + 1) { out.push((td.dataset.label || td.className || "a cell") + " ends at " + Math.round(r.right) + "px"); }
			const label = getComputedStyle(td, "::before").content;
			if (td.dataset.label && r.width > 0 && !label.includes(td.dataset.label)) { out.push(td.dataset.label + " is not named: " + label); }
		}
		const sorts = Array.from(table.querySelectorAll("thead a.sort")).filter(a => a.getBoundingClientRect().width > 0).length;
		if (sorts !== 4) { out.push(sorts + " sortable headings shown; want 4"); }
		return out.join("; ");
	})()`))
	if err != nil || stacked != "" {
		t.Errorf("the Users table at phone width: %s (%v)", stacked, err)
	}

	// An account with no one else yet: the ways people arrive, as wide
	// as the phone.
	cli("", "account", "create", "--slug", "neu", "--name", "Neugründung")
	cli("", "operator", "add", "--email", "olive@versicherung.example")
	do("a new account",
		chromedp.Navigate(s.url+"/admin/neu/users"),
		chromedp.WaitVisible(`#getting-started`))
	if sw, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)); err != nil || !sw {
		t.Errorf("the getting-started Users page is wider than the phone (%v)", err)
	}
	screenshot(t, ctx, "phone getting started")

	// The pages this work changed, at desktop width, for the eye.
	do("desktop", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(s.url+person.Value), chromedp.WaitVisible(`#bounced`))
	screenshot(t, ctx, "desktop person bounced")
	do("desktop users", chromedp.Navigate(s.url+base+"/users"), chromedp.WaitVisible(`#people`))
	screenshot(t, ctx, "desktop users bounced")
	do("desktop add", chromedp.Navigate(s.url+base+"/users/new"), chromedp.WaitVisible(`#add`),
		chromedp.Click(`#how-password`), chromedp.SendKeys(`#password`, "short1"))
	screenshot(t, ctx, "desktop add user rules")
	do("desktop getting started", chromedp.Navigate(s.url+"/admin/neu/users"), chromedp.WaitVisible(`#getting-started`))
	screenshot(t, ctx, "desktop getting started")

	if problems := console.problems(ctx, s.url); len(problems) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(problems, "\n"))
	}
	s.stop(t)
}
