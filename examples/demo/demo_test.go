package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/admit-dev/admit/npmtest"
)

// TestDemoInBrowser is what a newcomer does after `make demo`, in headless
// Chromium: a tile on Acme's intranet signs Nia in by SAML, admit creates
// her just in time and hands her to the wiki behind its proxy; the demo
// app signs her in through admit's OpenID provider; the portal pushes
// people by SCIM and Nia, an admin through her IdP group, sees them in the
// console; Leo arrives through Acme's OpenID provider and lands in the app.
func TestDemoInBrowser(t *testing.T) {
	browser := chromiumPath(t)
	bins := t.TempDir()
	bin, goApp := filepath.Join(bins, "admit"), filepath.Join(bins, "go-app")
	for pkg, out := range map[string]string{"../../cmd/admit": bin, "../apps/go": goApp} {
		if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, msg)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	port := freePorts(t, 8)
	d, err := start(ctx, config{admit: bin, goApp: goApp, dir: filepath.Join(t.TempDir(), "demo"), port: port}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	var welcome strings.Builder
	d.printWelcome(&welcome)
	for _, want := range []string{"http://" + d.addr.portal + "/", "nia / " + demoPassword, invitedEmail} {
		if !strings.Contains(welcome.String(), want) {
			t.Errorf("the welcome text lacks %q:\n%s", want, welcome.String())
		}
	}
	portal := "http://" + d.addr.portal + "/"

	nia := newBrowser(t, ctx, browser)
	var greeting string
	err = do(nia,
		chromedp.Navigate(portal),
		chromedp.Click(`#tile-saml`),
		chromedp.WaitVisible(`input[name=user]`), // Acme's SAML IdP
		chromedp.SendKeys(`input[name=user]`, "nia"),
		chromedp.SendKeys(`input[name=password]`, demoPassword),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#greeting`), // the wiki, behind admit's proxy
	)
	if err != nil {
		t.Fatalf("SAML tile: %v\n%s", err, d.admit.logs())
	}
	greeting = text(t, nia, `#greeting`)
	if greeting != "Welcome to the wiki, Nia Ng (admin)" {
		t.Errorf("the wiki greets %q", greeting)
	}

	err = do(nia,
		chromedp.Navigate("http://"+d.addr.app+"/"),
		chromedp.WaitVisible(`#greeting`),
	)
	if err != nil {
		t.Fatalf("demo app: %v\n%s", err, d.admit.logs())
	}
	greeting = text(t, nia, `#greeting`)
	if greeting != "Welcome, Nia Ng of Acme Inc" {
		t.Errorf("the Go app greets %q", greeting)
	}
	// The other example apps, as their comments say to run them.
	node := npmtest.Tool(t, "node")
	nodeApp := filepath.Join(npmtest.Install(t, filepath.Join("..", "apps", "node")), "app.mjs")
	examples := []struct{ name, addr, bin, script string }{
		{"node", d.addr.nodeApp, node, nodeApp},
		{"python", d.addr.pythonApp, "/usr/bin/python3", filepath.Join("..", "apps", "python", "app.py")},
	}
	for _, e := range examples {
		if e.name == "python" && !authlibInstalled(t) {
			continue
		}
		app, err := startChild(e.name+" example app", e.bin, d.setup.apps[e.name].env, e.script)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(app.stop)
		if err := app.waitReady(ctx, "http://"+e.addr+"/"); err != nil {
			t.Fatal(err)
		}
		if err := do(nia, chromedp.Navigate("http://"+e.addr+"/"), chromedp.WaitVisible(`#greeting`)); err != nil {
			t.Fatalf("the %s example app: %v\n%s", e.name, err, app.logs.String())
		}
		if got := text(t, nia, `#greeting`); got != "Welcome, Nia Ng of Acme Inc" {
			t.Errorf("the %s example app greets %q", e.name, got)
		}
	}

	var pushed, users string
	err = do(nia,
		chromedp.Navigate(portal),
		chromedp.Click(`#scim-push`),
		chromedp.WaitVisible(`#pushed`),
	)
	if err != nil {
		t.Fatalf("SCIM push: %v\n%s", err, d.admit.logs())
	}
	pushed = text(t, nia, `#pushed`)
	err = do(nia,
		chromedp.Navigate("http://"+d.addr.admit+"/admin/acme"),
		chromedp.WaitVisible(`table`),
	)
	if err != nil {
		t.Fatalf("console: %v\n%s", err, d.admit.logs())
	}
	users = text(t, nia, `table`)
	if !strings.Contains(pushed, "3 new") {
		t.Errorf("the portal says %q", pushed)
	}
	for _, p := range scimPeople {
		if !strings.Contains(users, p.UserName) {
			t.Errorf("the console's users lack %s:\n%s", p.UserName, users)
		}
	}

	// The request sequences of examples/scim, as Okta, Entra ID, OneLogin and
	// JumpCloud send them.
	for _, script := range []string{"okta.sh", "entra.sh", "onelogin.sh", "jumpcloud.sh"} {
		cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "scim", script))
		cmd.Env = append(os.Environ(), "ADMIT_URL=http://"+d.addr.admit, "SCIM_TOKEN="+d.setup.scimToken)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("examples/scim/%s: %v\n%s", script, err, out)
		}
	}

	leo := newBrowser(t, ctx, browser)
	err = do(leo,
		chromedp.Navigate(portal),
		chromedp.Click(`#tile-oidc`),
		chromedp.WaitVisible(`input[name=user]`), // Acme's OpenID provider
		chromedp.SendKeys(`input[name=user]`, "leo"),
		chromedp.SendKeys(`input[name=password]`, demoPassword),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`#greeting`),
	)
	if err != nil {
		t.Fatalf("OIDC tile: %v\n%s", err, d.admit.logs())
	}
	greeting = text(t, leo, `#greeting`)
	if greeting != "Welcome, Leo Park of Acme Inc" {
		t.Errorf("the app greets %q", greeting)
	}

	mail, err := d.admit.run(ctx, "", "mail", "list", "--account", "acme")
	if err != nil || !strings.Contains(string(mail), invitedEmail) {
		t.Errorf("the dev mailbox: %v\n%s", err, mail)
	}
}

// chromiumPath finds Debian's Chromium; without it the test is skipped,
// unless ADMIT_TEST_REQUIRE_BROWSER says CI must run it.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("ADMIT_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("ADMIT_TEST_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium, and ADMIT_TEST_REQUIRE_BROWSER is set: apt-get install chromium")
	}
	t.Skip("no Chromium: apt-get install chromium to run the demo's browser test")
	return ""
}

// newBrowser is a fresh headless Chromium profile: a person of their own.
func newBrowser(t *testing.T, ctx context.Context, path string) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-quic", true))
	b, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(b); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

// freePorts finds n consecutive free ports on loopback, for the demo's
// fixed layout (admit, then its neighbours).
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		base := 20000 + rand.IntN(30000)
		var held []io.Closer
		ok := true
		for i := range n {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+i)))
			if err != nil {
				ok = false
				break
			}
			held = append(held, ln)
		}
		for _, c := range held {
			_ = c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports on 127.0.0.1", n)
	return 0
}

func text(t *testing.T, browser context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(browser, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// where tells where a browser is and what it shows, for a failure message.
func where(browser context.Context) string {
	ctx, cancel := context.WithTimeout(browser, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text("body"))
	return loc + ": " + body
}

// do runs steps in a browser with a time limit of their own, so a step that
// waits forever fails with where the browser got to.
func do(browser context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(browser, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		return fmt.Errorf("%w; the browser is at %s", err, where(browser))
	}
	return nil
}

// authlibInstalled says whether Debian's python3-authlib and
// python3-requests are there for the Python example; CI installs them
// (.ci/run) and sets ADMIT_TEST_REQUIRE_SNIPPETS, which makes their absence
// a failure rather than a skip.
func authlibInstalled(t *testing.T) bool {
	err := exec.Command("/usr/bin/python3", "-c", "import authlib, requests").Run()
	if err == nil {
		return true
	}
	if os.Getenv("ADMIT_TEST_REQUIRE_SNIPPETS") != "" {
		t.Errorf("the Python example needs Debian's python3-authlib and python3-requests (%v), and ADMIT_TEST_REQUIRE_SNIPPETS is set", err)
		return false
	}
	t.Logf("SKIPPED the Python example app: apt-get install python3-authlib python3-requests to run it (%v)", err)
	return false
}
