package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/admit-dev/admit/store/storetest"
)

// chromium finds Debian's chromium. Without it the browser tests skip and
// say so loudly; with ADMIT_TEST_REQUIRE_BROWSER=1 (as .ci/run sets) they fail.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("ADMIT_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("ADMIT_TEST_REQUIRE_BROWSER") == "1" {
		t.Fatal("chromium is required (ADMIT_TEST_REQUIRE_BROWSER=1) but not installed: apt-get install chromium")
	}
	fmt.Fprintln(os.Stderr, "\n!!! SKIPPING browser tests: chromium is not installed (apt-get install chromium; .ci/run installs it)")
	t.Skip("chromium not installed")
	return ""
}

// newBrowser starts headless Chromium for the test, with the flags that keep
// it off the network (the machine reaches nothing but loopback). Its limit
// only stops a test that hangs: on the 2-core machine, with the other
// packages' tests running beside it, a minute was not always enough.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	return newBrowserFor(t, 3*time.Minute)
}

// newBrowserFor is newBrowser for a test that needs longer than a minute
// in all (many pages, each checked by axe-core).
func newBrowserFor(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, limit)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

func TestInvitationInBrowser(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	db := storetest.SQLiteURL(t)
	settings := []string{"ADMIT_DATABASE_URL=" + db, testKey}
	s := startServer(t, t.TempDir(), settings...)
	cli := func(args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), "", args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	cli("account", "create", "--slug", "acme", "--name", "Acme Inc")
	cli("account", "set-policy", "--account", "acme", "--min-length", "14", "--require", "digit")
	cli("invite", "create", "--account", "acme", "--email", "nia@acme.example")
	// The dev mailbox holds the email once the server's worker has handled it.
	var text string
	for deadline := time.Now().Add(20 * time.Second); ; {
		list := decode[[]mailJSON](t, cli("mail", "list", "--account", "acme", "--json"))
		if len(list) == 1 && list[0].Status == "kept" {
			text = decode[map[string]string](t, cli("mail", "show", "--account", "acme", "--id", list[0].ID, "--json"))["text"]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the invitation never reached the dev mailbox")
		}
		time.Sleep(100 * time.Millisecond)
	}
	link := s.url + inviteLink.FindString(text)

	err := chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#password`, "short"),
	)
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, s.logs)
	}
	countMet := chromedp.Evaluate[int](`document.querySelectorAll("#password-rules li.met").length`)
	metBefore, err := chromedp.Run(ctx, countMet)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(`#password`, " but now long with 7")); err != nil {
		t.Fatal(err)
	}
	metAfter, err := chromedp.Run(ctx, countMet)
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`#first_name`, "Nia"),
		chromedp.SendKeys(`#last_name`, "Ng"),
		chromedp.SendKeys(`#confirm`, "short but now long with 7"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`p[role=status]`),
	)
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, s.logs)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(`h1`))
	if err != nil {
		t.Fatal(err)
	}
	// The rules script runs under the page's Content-Security-Policy: with
	// a short password none of the two checkable rules is met, then both are.
	if metBefore != 0 || metAfter != 2 {
		t.Errorf("rules met: %d then %d; want 0 then 2 (length, digit)", metBefore, metAfter)
	}
	if !strings.Contains(heading, "Welcome to Acme Inc") {
		t.Errorf("after submitting: %q", heading)
	}
	// Accepting signed Nia in: the welcome page leads straight home.
	if err := chromedp.Do(ctx, chromedp.Click(`a.button`), chromedp.WaitVisible(`#current-account`)); err != nil {
		t.Fatalf("continue after accepting: %v\n%s", err, s.logs)
	}
	expectSignedIn(t, ctx, "Acme Inc", "nia@acme.example")
	s.stop(t)
}

func TestSignInInBrowser(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	db := storetest.SQLiteURL(t)
	settings := []string{"ADMIT_DATABASE_URL=" + db, testKey}
	s := startServer(t, t.TempDir(), settings...)
	cli := func(stdin string, args ...string) {
		t.Helper()
		if r := admitWith(t, append(cleanEnv(), settings...), stdin, args...); r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
	}
	cli("", "account", "create", "--slug", "alpha", "--name", "Alpha Ltd")
	cli("", "account", "create", "--slug", "beta", "--name", "Beta GmbH")
	cli("initial password given\n", "user", "add", "--account", "alpha", "--email", "pat@example.com", "--first", "Pat", "--last", "Q", "--password-stdin")
	cli("not used: pat has a password\n", "user", "add", "--account", "beta", "--email", "pat@example.com", "--first", "Pat", "--last", "Q", "--password-stdin")

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/me"),
		chromedp.WaitVisible(`#email`), // signed out: the sign-in form, email first
		chromedp.SendKeys(`#email`, "pat@example.com"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#password`, "initial password given"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#current`), // made to change the initial password
		chromedp.SendKeys(`#current`, "initial password given"),
		chromedp.SendKeys(`#password`, "a phrase only pat knows"),
		chromedp.SendKeys(`#confirm`, "a phrase only pat knows"),
		chromedp.Click(`button[type=submit]`),
		// alpha's admin set the password, so until Pat proves the address
		// it opens alpha only: no picker.
		chromedp.WaitVisible(`//strong[@id="current-account" and text()="Alpha Ltd"]`),
	)
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, s.logs)
	}
	if text, _ := chromedp.Run(ctx, chromedp.Text(`main`)); strings.Contains(text, "Beta GmbH") {
		t.Errorf("the unproven password offers Beta GmbH:\n%s", text)
	}
	// A password reset proves the address; then the picker shows both.
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/password/reset"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "pat@example.com"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`p[role=status]`),
	)
	if err != nil {
		t.Fatalf("reset request: %v", err)
	}
	link := resetLinkFromMailbox(t, settings, "alpha", s.url)
	err = chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`#confirm`),
		chromedp.SendKeys(`#password`, "a phrase only pat knows"),
		chromedp.SendKeys(`#confirm`, "a phrase only pat knows"),
		chromedp.Click(`button[type=submit]`),
		// The sign-in page's second step (the reset page has a #password
		// too, so wait for what only the sign-in page has).
		chromedp.WaitVisible(`#signing-in-as`),
		chromedp.SendKeys(`#password`, "a phrase only pat knows"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`button.account`), // two accounts: the picker
		chromedp.Click(`//button[contains(., "Beta GmbH")]`),
		chromedp.WaitVisible(`#current-account`),
	)
	if err != nil {
		t.Fatalf("browser after the reset: %v\n%s", err, s.logs)
	}
	current, err := chromedp.Run(ctx, chromedp.Text(`#current-account`))
	if err != nil || current != "Beta GmbH" {
		t.Fatalf("open account %q, %v; want Beta GmbH", current, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(`//button[contains(., "Switch to Alpha Ltd")]`),
		chromedp.WaitVisible(`//strong[@id="current-account" and text()="Alpha Ltd"]`),
	)
	if err != nil {
		t.Fatalf("switch: %v", err)
	}
	s.stop(t)
}

// expectSignedIn checks that the browser is on the signed-in home page of
// the account as the person.
func expectSignedIn(t *testing.T, ctx context.Context, account, email string) {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Text(`main`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "signed in to " + account + " as " + email; !strings.Contains(text, want) {
		t.Errorf("after the login: %q; want %q", text, want)
	}
}

// resetLinkFromMailbox reads the newest password reset link from the dev
// mailbox with the CLI, pointed at the server's own address.
func resetLinkFromMailbox(t *testing.T, settings []string, account, base string) string {
	t.Helper()
	// The reset page answers before it writes the link (so that its
	// timing tells nothing): the mail may come a moment after the answer.
	var r result
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r = admitWith(t, append(cleanEnv(), settings...), "", "mail", "list", "--account", account, "--json")
		var msgs []struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &msgs); err != nil {
			t.Fatalf("mail list: %v: %s %s", err, r.stdout, r.stderr)
		}
		for _, m := range msgs {
			if m.Kind != "password_reset" {
				continue
			}
			shown := admitWith(t, append(cleanEnv(), settings...), "", "mail", "show", "--account", account, "--id", m.ID)
			if path := resetPath.FindString(shown.stdout); path != "" {
				return base + path
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	t.Fatalf("no reset link in the mailbox: %s", r.stdout)
	return ""
}

var resetPath = regexp.MustCompile(`/password/reset/[A-Za-z0-9_-]+`)

// firstSignIn signs a person in on the sign-in page in front of the
// browser (email first, then the password an admin gave them) and
// changes that initial password to chosen, as admit asks first; the
// browser then goes on where it was going.
func firstSignIn(email, initial, chosen string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, email),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#password`, initial),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#current`),
		chromedp.SendKeys(`#current`, initial),
		chromedp.SendKeys(`#password`, chosen),
		chromedp.SendKeys(`#confirm`, chosen),
		chromedp.Click(`button[type=submit]`),
	)
}
