package main

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml"

	"github.com/admit-dev/admit/store/storetest"
)

// TestSSOPagesInBrowser walks the SAML pages of `admit serve` in Chromium:
// the intranet link of an account with two SAML connections, the choice by
// email domain, the login at crewjam's IdP and its cross-site POST back, and
// the failure page a broken response lands on.
func TestSSOPagesInBrowser(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	console := watchConsole(ctx)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	// admit is localhost and the identity provider 127.0.0.1: two sites, so
	// the IdP's POST to the ACS is cross-site as it is in production, and
	// the cookie that binds the login to this browser has to survive it.
	base := "http://localhost:" + port
	idp := samlIdP(t)
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), testKey,
		"ADMIT_ADDR=" + addr, "ADMIT_BASE_URL=" + base}
	cli := func(t *testing.T, args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), "", args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	md := filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(md, []byte(getBody(t, idp.URL+"/metadata")), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, "account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "example.com", "--domain", "corp.example")
	cli(t, "sso", "add-saml", "--account", "acme", "--name", "okta", "--metadata-file", md, "--domain", "example.com")
	cli(t, "sso", "add-saml", "--account", "acme", "--name", "entra", "--metadata-file", md, "--domain", "corp.example")
	s := startServer(t, t.TempDir(), settings...)
	for _, name := range []string{"okta", "entra"} {
		put(t, idp.URL+"/services/"+name, "application/xml", getBody(t, base+"/sso/acme/saml/"+name+"/metadata"))
	}
	putIdPUser(t, idp.URL, "nia", "nia@corp.example", "Nia", "Ng")

	t.Run("the intranet link asks for an email and follows its domain", func(t *testing.T) {
		err := browse(ctx,
			chromedp.Navigate(base+"/sso/acme/login"),
			chromedp.WaitVisible(`#email`),
			chromedp.SendKeys(`#email`, "pat@unknown.example"),
			chromedp.Click(`button[type=submit]`),
			chromedp.WaitVisible(`p.error`),
		)
		if err != nil {
			t.Fatalf("browser: %v\n%s", err, s.logs)
		}
		problem, _ := chromedp.Run(ctx, chromedp.Text(`p.error`))
		kept, _ := chromedp.Run(ctx, chromedp.Value(`#email`))
		if !strings.Contains(problem, "No identity provider of Acme Inc serves that address") || kept != "pat@unknown.example" {
			t.Errorf("unknown domain: error %q, email field %q; want the readable error and the address kept", problem, kept)
		}

		err = browse(ctx,
			chromedp.Clear(`#email`),
			chromedp.SendKeys(`#email`, "nia@corp.example"),
			chromedp.Click(`button[type=submit]`),
			chromedp.WaitVisible(`input[name=user]`), // the IdP's login form
		)
		if err != nil {
			t.Fatalf("the IdP's login form never came (%v); the browser is at %s; the console check below may say why\n%s", err, browserAt(ctx), s.logs)
		}
		at, _ := chromedp.Run(ctx, chromedp.Location())
		// corp.example belongs to entra: the AuthnRequest must be entra's.
		if issuer := authnRequestIssuer(t, at, idp.URL+"/sso?"); issuer != base+"/sso/acme/saml/entra/metadata" {
			t.Errorf("the AuthnRequest comes from %q; want connection entra", issuer)
		}

		err = browse(ctx,
			chromedp.SendKeys(`input[name=user]`, "nia"),
			chromedp.SendKeys(`input[name=password]`, "pw-nia"),
			// As in TestSAMLLoginInBrowser: posted to /sso, samlidp's login
			// fields answer the AuthnRequest.
			chromedp.Evaluate[chromedp.Void](`document.forms[0].action = location.origin + "/sso"`),
			chromedp.Click(`input[type=submit]`),
			chromedp.WaitVisible(`#current-account`),
		)
		if err != nil {
			t.Fatalf("login at the IdP: %v; the browser is at %s\n%s", err, browserAt(ctx), s.logs)
		}
		expectSignedIn(t, ctx, "Acme Inc", "nia@corp.example")
	})

	t.Run("a broken response lands on a readable failure page", func(t *testing.T) {
		poster := httptest.NewServer(http.HandlerFunc(postForm))
		t.Cleanup(poster.Close)
		acs := base + "/sso/acme/saml/okta/acs"
		unsigned := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1" Version="2.0">` +
			`<saml:Issuer>` + idp.URL + `/metadata</saml:Issuer><saml:Assertion ID="a1" Version="2.0"><saml:Issuer>` + idp.URL + `/metadata</saml:Issuer>` +
			`<saml:Subject><saml:NameID>ceo@example.com</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>`
		for _, tc := range []struct {
			name, action, samlResponse string
			status                     int64
			message                    string
			logged                     bool // in okta's login log
		}{
			{"not base64", acs, "%%%not base64", http.StatusBadRequest, "The sign-in response could not be read.", true},
			{"unsigned, forged assertion", acs, base64.StdEncoding.EncodeToString([]byte(unsigned)), http.StatusForbidden,
				"Your organisation's identity provider sent a sign-in response that admit cannot accept.", true},
			// Refused by the bounds check, before crewjam: it cannot be read.
			{"not XML", acs, base64.StdEncoding.EncodeToString([]byte("<samlp:Response><oops")), http.StatusBadRequest, "The sign-in response could not be read.", true},
			{"the ACS of no connection", base + "/sso/acme/saml/nope/acs", "PHg+", http.StatusNotFound, "This sign-in link is not set up in admit.", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				form := poster.URL + "?" + url.Values{"action": {tc.action}, "SAMLResponse": {tc.samlResponse}}.Encode()
				if err := browse(ctx, chromedp.Navigate(form), chromedp.WaitVisible(`#post`)); err != nil {
					t.Fatalf("browser: %v", err)
				}
				ctx, cancel := context.WithTimeout(ctx, stepTime)
				defer cancel()
				resp, err := chromedp.RunResponse(ctx, chromedp.Click(`#post`))
				if err != nil {
					t.Fatalf("post: %v\n%s", err, s.logs)
				}
				text, _ := chromedp.Run(ctx, chromedp.Text(`main`))
				ref, _ := chromedp.Run(ctx, chromedp.Text(`main code`))
				retry, _ := chromedp.Run(ctx, chromedp.AttributeValue(`main a`, "href"))
				if resp.Status != tc.status || !strings.Contains(text, tc.message) || ref == "" || retry.Value != "/sso/acme/login" {
					t.Errorf("%d, reference %q, retry %q, page %q; want %d with %q, a reference and a way back", resp.Status, ref, retry.Value, text, tc.status, tc.message)
				}
				if csp, _ := resp.Headers["Content-Security-Policy"].(string); !strings.Contains(csp, "default-src 'none'") {
					t.Errorf("Content-Security-Policy = %q", csp)
				}
				// The reason is for the admin, in the login log under the
				// reference the person quotes; never on the page.
				internals := []string{"goroutine", "panic", ".go:", "runtime error", "XML syntax", "base64", "signature"}
				if tc.logged {
					at := newestAttempt(t, cli(t, "sso", "attempts", "--account", "acme", "--connection", "okta", "--limit", "1", "--json"))
					if at.Reference != ref || at.Outcome != "refused" {
						t.Errorf("login log: %+v; want the refusal under reference %q", at, ref)
					}
					internals = append(internals, at.Reason)
				}
				for _, leak := range internals {
					if strings.Contains(strings.ToLower(text), strings.ToLower(leak)) {
						t.Errorf("the page shows %q: %q", leak, text)
					}
				}
			})
		}
	})

	for _, m := range console.problems(ctx, base) {
		t.Errorf("console of admit's pages: %s", m)
	}
	s.stop(t)
}

// stepTime bounds each browser step, so that a page that never comes
// fails its own check and leaves the later ones their time.
const stepTime = 15 * time.Second

func browse(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(ctx, stepTime)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// browserAt tells where the browser is and what the page says, for a failure
// message.
func browserAt(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	at, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Text(`body`))
	return fmt.Sprintf("%s, showing %q", at, text)
}

// postForm is a stand-in for an identity provider's page: a form that
// posts ?SAMLResponse= to ?action= when its button is clicked.
func postForm(w http.ResponseWriter, r *http.Request) {
	_ = postTemplate.Execute(w, map[string]string{"Action": r.URL.Query().Get("action"), "SAMLResponse": r.URL.Query().Get("SAMLResponse")})
}

var postTemplate = template.Must(template.New("post").Parse(`<!doctype html><title>IdP</title>
<form method="post" action="{{.Action}}"><input type="hidden" name="SAMLResponse" value="{{.SAMLResponse}}">
<button id="post" type="submit">Continue</button></form>`))

// authnRequestIssuer checks that the browser is at the IdP's single
// sign-on URL with a SAMLRequest, and returns the request's issuer.
func authnRequestIssuer(t *testing.T, location, prefix string) string {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, prefix) || u.Query().Get("SAMLRequest") == "" {
		t.Fatalf("the browser is at %q; want %s…SAMLRequest=…", location, prefix)
	}
	// HTTP-Redirect binding: base64 of raw DEFLATE (SAML bindings 3.4.4.1).
	deflated, err := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
	if err != nil {
		t.Fatalf("SAMLRequest: %v", err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatalf("SAMLRequest: %v", err)
	}
	var req saml.AuthnRequest
	if err := xml.Unmarshal(raw, &req); err != nil || req.Issuer == nil {
		t.Fatalf("SAMLRequest is no AuthnRequest: %v\n%s", err, raw)
	}
	return req.Issuer.Value
}

type attemptJSON struct{ Outcome, Reason, Reference string }

func newestAttempt(t *testing.T, r result) attemptJSON {
	t.Helper()
	all := decode[[]attemptJSON](t, r)
	if len(all) == 0 {
		t.Fatal("nothing in the login log")
	}
	return all[0]
}

func getBody(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	return string(b)
}

// consoleLog keeps what the pages wrote to the console while the test ran.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func watchConsole(ctx context.Context) *consoleLog {
	c := &consoleLog{}
	msgs := chromedp.Console(ctx) // subscribes now; ends with the browser
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// problems are the exceptions, errors and warnings of pages under origin
// (a refused Content-Security-Policy among them), leaving out the network
// entries Chrome writes for every 4xx document: a failure page is one.
func (c *consoleLog) problems(ctx context.Context, origin string) []string {
	// A round trip to the page, so that what it logged before has arrived.
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[int](`1`))
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		serious := m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning
		if serious && m.Source != "network" && (m.URL == "" || strings.HasPrefix(m.URL, origin)) {
			b, _ := json.Marshal(map[string]any{"type": m.Type, "source": m.Source, "url": m.URL, "text": m.Text})
			out = append(out, string(b))
		}
	}
	return out
}
