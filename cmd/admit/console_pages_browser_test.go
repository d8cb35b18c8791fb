package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/admit-dev/admit/store/storetest"
)

// TestConsolePagesInBrowser: through admit serve, in Chromium, an owner
// sorts the Users table by its headings, changes the Security page and
// reads the Mail page, makes a SCIM token and adds a webhook;
// then, made an operator with the CLI, opens /admin, rebrands her account,
// creates an account and enters another account's console as the
// operator, resends an invitation there and finds it in its audit log. axe-core
// finds no serious or critical violation on these pages, and they log no
// error and no CSP violation. The operator's changes are audited as theirs.
//
// With ADMIT_SCREENSHOTS=DIR, it saves the README's screenshots there
// (console-users.png, console-person.png, console-security.png,
// console-branding.png and the others).
func TestConsolePagesInBrowser(t *testing.T) {
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
	cli("", "account", "create", "--slug", "beta", "--name", "Beta Ltd")
	cli("first password given 42\n", "user", "add", "--account", "acme", "--email", "olive@acme.example", "--first", "Olive", "--last", "Owner", "--role", "owner", "--password-stdin")
	for _, p := range [][3]string{{"zoe@acme.example", "Zoe", "Adams"}, {"bill@acme.example", "Bill", "Young"}, {"ann@acme.example", "Ann", "Lee"}} {
		cli("", "user", "add", "--account", "acme", "--email", p[0], "--first", p[1], "--last", p[2], "--invite")
	}
	cli("", "user", "add", "--account", "beta", "--email", "bo@beta.example", "--first", "Bo", "--last", "B", "--invite")

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
		screenshot(t, ctx, page)
	}

	do("sign in",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(s.url+"/admin/acme/users"),
		firstSignIn("olive@acme.example", "first password given 42", "her own long passphrase 7"),
		// The password changed, the browser goes on where it was going.
		chromedp.WaitVisible(`#people`))
	checked("users")

	// Sorting by name, then the other way, by the headings' links.
	do("sort by name",
		chromedp.Click(`#people thead a[href$="sort=name"]`),
		chromedp.WaitVisible(`#people th[aria-sort=ascending] a[href$="dir=desc&sort=name"]`))
	if got := text(`#people tbody tr:first-child`); !strings.Contains(got, "ann@acme.example") {
		t.Errorf("first by name: %q", got)
	}
	do("sort by name, descending",
		chromedp.Click(`#people th[aria-sort=ascending] a`),
		chromedp.WaitVisible(`#people th[aria-sort=descending]`))
	if got := text(`#people tbody tr:first-child`); !strings.Contains(got, "zoe@acme.example") {
		t.Errorf("first by name, descending: %q", got)
	}
	checked("users sorted")
	do("a person",
		chromedp.Click(`#people a[href^="/admin/acme/users/"]`),
		chromedp.WaitVisible(`#status`))
	checked("person")

	// Security: the policy in plain words; a stricter one saved.
	do("security",
		chromedp.Click(`a[href="/admin/acme/security"]`),
		chromedp.WaitVisible(`#save-security`))
	checked("security")
	do("security save",
		chromedp.SetValue(`#min_length`, "16"),
		chromedp.Click(`input[name=require_digit]`),
		chromedp.Click(`#save-security`),
		chromedp.WaitVisible(`#done-saved`))
	if got := text(`#policy-words`); !strings.HasPrefix(got, "People choose passwords of at least 16 characters, with a digit.") {
		t.Errorf("policy in words: %q", got)
	}

	// Mail: the invitations' deliveries, kept in the dev mailbox.
	do("mail",
		chromedp.Click(`a[href="/admin/acme/mail"]`),
		chromedp.WaitVisible(`#mail`))
	if got := text(`#mail tbody`); !strings.Contains(got, "zoe@acme.example") || !strings.Contains(got, "Invitation") {
		t.Errorf("the Mail page: %q", got)
	}
	checked("mail")

	// Provisioning: a token made, shown once.
	do("SCIM token",
		chromedp.Click(`a[href="/admin/acme/scim"]`),
		chromedp.WaitVisible(`#create-token`),
		chromedp.SendKeys(`#token-name`, "Okta production"),
		chromedp.Click(`#create-token`),
		chromedp.WaitVisible(`#token-value`))
	if got := text(`#token-value`); !strings.HasPrefix(got, "admit_scim_") {
		t.Errorf("the new token: %q", got)
	}
	if got := text(`#new-token p`); !strings.HasPrefix(got, "New token “Okta production”: copy it now") {
		t.Errorf("the new token's words: %q", got)
	}
	// copy.js shows the Copy button (hidden in the HTML): it ran under
	// the page's CSP.
	do("the token's Copy button", chromedp.WaitVisible(`button[data-copy="token-value"]`))
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector('button[data-copy="token-value"]').hidden`)); err != nil || !shown {
		t.Errorf("the token's Copy button is hidden (%v): copy.js did not run", err)
	}
	// ADMIT_BASE_URL is left at its default here.
	if got := text(`#scim-base-url`); got != "http://localhost:8080/scim/v2" {
		t.Errorf("SCIM base URL: %q; want ADMIT_BASE_URL's /scim/v2", got)
	}
	checked("scim")

	// Webhooks: an endpoint for one event type, its secret shown once,
	// then its page of deliveries.
	do("webhooks",
		chromedp.Click(`a[href="/admin/acme/webhooks"]`),
		chromedp.WaitVisible(`#add-webhook`))
	checked("webhooks")
	do("add a webhook",
		chromedp.SendKeys(`#webhook-url`, "https://hooks.acme.example/admit"),
		chromedp.Click(`input[name=events][value="user.created"]`),
		chromedp.Click(`#add-webhook`),
		chromedp.WaitVisible(`#secret-value`))
	if got := text(`#secret-value`); !strings.HasPrefix(got, "whsec_") {
		t.Errorf("the new webhook's secret: %q", got)
	}
	if got := text(`#webhooks tbody`); !strings.Contains(got, "https://hooks.acme.example/admit") || !strings.Contains(got, "user.created") {
		t.Errorf("the webhooks: %q", got)
	}
	do("a webhook's page",
		chromedp.Click(`#webhooks a[href^="/admin/acme/webhooks/"]`),
		chromedp.WaitVisible(`#webhook-state`))
	checked("webhook")

	if problems := console.problems(ctx, s.url); len(problems) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(problems, "\n"))
	}

	// An operator now: every account, one created, another entered. (A
	// second browser: one has a minute for everything.)
	cli("", "operator", "add", "--email", "olive@acme.example")
	ctx = newBrowser(t)
	console = watchConsole(ctx)
	do("sign in as operator",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(s.url+"/admin/"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "olive@acme.example"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#password`, "her own long passphrase 7"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#create-account`))
	checked("accounts")
	do("branding",
		chromedp.Navigate(s.url+"/admin/acme/branding"),
		chromedp.WaitVisible(`#save-branding`),
		chromedp.SetValue(`#color`, "#0a66c2"),
		chromedp.SetValue(`#display_name`, "Acme Cloud"),
		chromedp.Click(`#save-branding`),
		chromedp.WaitVisible(`#done-saved`))
	if got := text(`header.brand`); !strings.Contains(got, "Acme Cloud") {
		t.Errorf("the console's header after rebranding: %q", got)
	}
	checked("branding")

	// A logo uploaded: the console, the sign-in page and both previews
	// show it from admit's own address, loaded under every page's CSP.
	logo := filepath.Join(t.TempDir(), "logo.png")
	img := image.NewRGBA(image.Rect(0, 0, 120, 30))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{10, 102, 194, 255}), image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logo, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	do("upload a logo",
		chromedp.SetUploadFiles(`#logo`, []string{logo}),
		chromedp.Click(`#upload-logo`),
		chromedp.WaitVisible(`#done-logo`),
		chromedp.WaitVisible(`#current-logo`))
	loaded := func(where, sel string) string {
		t.Helper()
		src, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
			const img = document.querySelector(`+"`"+sel+"`"+`);
			return img && img.complete && img.naturalWidth === 120 ? new URL(img.src).pathname : "";
		})()`))
		if err != nil || !strings.HasPrefix(src, "/branding/acme/logo/") {
			t.Errorf("%s: the logo %s is not loaded from admit (%q, %v)", where, sel, src, err)
		}
		return src
	}
	src := loaded("console", `header img.logo`)
	checked("branding with logo")
	// /login does not know the account yet; /me, the page signing in
	// leads to, wears its branding (as do the invitation, reset and
	// single sign-on pages).
	do("home page", chromedp.Navigate(s.url+"/me"), chromedp.WaitVisible(`header img.logo`))
	loaded("home page", `header img.logo`)
	// The previews' frames are sandboxed (an opaque origin the test
	// cannot reach into), so they are opened on their own here.
	do("branding again", chromedp.Navigate(s.url+"/admin/acme/branding"), chromedp.WaitVisible(`#preview-sign-in`))
	if got, err := chromedp.Run(ctx, chromedp.AttributeValue(`#preview-sign-in`, "src")); err != nil || got.Value != "/admin/acme/branding/preview/sign-in" {
		t.Errorf("the sign-in preview's frame: %q %v", got.Value, err)
	}
	do("sign-in preview", chromedp.Navigate(s.url+"/admin/acme/branding/preview/sign-in"), chromedp.WaitVisible(`#email`))
	if got, err := chromedp.Run(ctx, chromedp.AttributeValue(`header img.logo`, "src")); err != nil || got.Value != src {
		t.Errorf("sign-in preview's logo: %q %v; want %q", got.Value, err, src)
	}
	do("unsaved preview",
		chromedp.Navigate(s.url+"/admin/acme/branding"),
		chromedp.WaitVisible(`#save-branding`),
		chromedp.SetValue(`#display_name`, "Acme Preview"),
		// The page clicked on is marked, so that what is waited for is on
		// the page the Preview leads to: the frames of the one clicked on
		// are visible too, and follow the typed name by script.
		chromedp.Evaluate[chromedp.Void](`document.body.dataset.clicked = "yes"`),
		chromedp.Click(`#preview-branding`),
		chromedp.WaitVisible(`body:not([data-clicked]) #preview-email`))
	if got, err := chromedp.Run(ctx, chromedp.AttributeValue(`#preview-email`, "src")); err != nil || !strings.Contains(got.Value, "display_name=Acme+Preview") {
		t.Errorf("the email preview's frame after Preview: %q %v", got.Value, err)
	}
	checked("branding preview")
	// With JavaScript, typing is enough: the frames follow a moment later.
	do("live preview",
		chromedp.SendKeys(`#display_name`, " Live"),
		chromedp.WaitVisible(`#preview-email[src*="Live"]`),
		chromedp.WaitVisible(`#preview-sign-in[src*="Live"]`))
	do("email preview", chromedp.Navigate(s.url+"/admin/acme/branding/preview/email?display_name=Acme+Preview"), chromedp.WaitVisible(`img`))
	if got, err := chromedp.Run(ctx, chromedp.AttributeValue(`img`, "src")); err != nil || got.Value != src {
		t.Errorf("email preview's logo: %q %v; want …%s", got.Value, err, src)
	}
	do("accounts again", chromedp.Navigate(s.url+"/admin/"), chromedp.WaitVisible(`#create-account`))
	do("create an account",
		chromedp.SendKeys(`#slug`, "gamma"),
		chromedp.SendKeys(`#name`, "Gamma GmbH"),
		chromedp.Click(`#create-account`),
		chromedp.WaitVisible(`nav.console a[href="/admin/gamma/security"]`))
	if got := text(`#operator-badge`); !strings.Contains(got, "operator") {
		t.Errorf("gamma's console: %q", got)
	}
	do("enter beta",
		chromedp.Navigate(s.url+"/admin/"),
		chromedp.WaitVisible(`#accounts`),
		chromedp.Click(`#accounts a[href="/admin/beta/users"]`),
		chromedp.WaitVisible(`#people`))
	if got := text(`#operator-badge`); !strings.Contains(got, "olive@acme.example, operator") {
		t.Errorf("operator badge: %q", got)
	}
	checked("operator view")
	do("resend as operator",
		chromedp.Click(`#people a[href^="/admin/beta/users/"]`),
		chromedp.WaitVisible(`#resend`),
		chromedp.Click(`#resend`),
		chromedp.WaitVisible(`#done-resent`))
	do("domains",
		chromedp.Click(`a[href="/admin/beta/domains"]`),
		chromedp.WaitVisible(`#add-domain`),
		chromedp.SendKeys(`#domain`, "beta.example"),
		chromedp.Click(`#add-domain`),
		chromedp.WaitVisible(`#done-added`))
	if got := text(`#domains .record-value`); !strings.HasPrefix(got, "admit-verify=") {
		t.Errorf("the TXT record to publish: %q", got)
	}
	checked("domains")
	do("audit log",
		chromedp.Click(`a[href="/admin/beta/audit"]`),
		chromedp.WaitVisible(`#events`),
		chromedp.SendKeys(`#action`, "invitation.resent"),
		chromedp.Click(`form[role=search] button[type=submit]`),
		chromedp.WaitVisible(`#action[value="invitation.resent"]`),
		chromedp.WaitVisible(`#events`))
	if got := text(`#events tbody tr:first-child`); !strings.Contains(got, "invitation.resent") || !strings.Contains(got, "(operator)") {
		t.Errorf("beta's newest invitation event: %q", got)
	}
	checked("audit log")

	if problems := console.problems(ctx, s.url); len(problems) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(problems, "\n"))
	}
	var events []struct {
		Action string `json:"action"`
		Actor  struct {
			Source string `json:"source"`
			Name   string `json:"name"`
		} `json:"actor"`
	}
	r := cli("", "audit", "list", "--account", "beta", "--action", "invitation.resent", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &events); err != nil {
		t.Fatalf("audit list: %v: %s", err, r.stdout)
	}
	if len(events) != 1 || events[0].Actor.Source != "operator" || events[0].Actor.Name != "olive@acme.example" {
		t.Errorf("beta's resend: %+v; want one by the operator", events)
	}
	s.stop(t)
}

// screenshot saves the page as DIR/NAME.png when ADMIT_SCREENSHOTS=DIR
// (for the README: make screenshots), and does nothing otherwise.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("ADMIT_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console-"+strings.ReplaceAll(name, " ", "-")+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
