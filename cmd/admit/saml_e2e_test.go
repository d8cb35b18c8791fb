package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	stdlog "log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
	"golang.org/x/crypto/bcrypt"

	"github.com/admit-dev/admit/store/storetest"
)

// samlIdP runs crewjam's samlidp on a loopback HTTP server.
func samlIdP(t *testing.T) *httptest.Server {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "idp"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	srv := httptest.NewUnstartedServer(nil)
	u, _ := url.Parse("http://" + srv.Listener.Addr().String())
	idp, err := samlidp.New(samlidp.Options{URL: *u, Key: key, Certificate: cert, Store: &samlidp.MemoryStore{}, Logger: stdlog.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = idp
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// putIdPUser gives crewjam's samlidp a user whose password is "pw-" and
// their name, as a bcrypt hash of the lowest cost: the one the IdP makes
// from a password, at bcrypt's default cost, takes most of a second under
// -race, once when the user is put and again at each login.
func putIdPUser(t *testing.T, idpURL, name, email, given, surname string, groups ...string) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw-"+name), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := json.Marshal(map[string]any{"name": name, "hashed_password": hash, "email": email, "given_name": given, "surname": surname, "groups": groups})
	put(t, idpURL+"/users/"+name, "application/json", string(user))
}

func put(t *testing.T, u, contentType, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("PUT %s: %s", u, resp.Status)
	}
}

// TestSAMLLoginInBrowser is the whole SAML flow through `admit serve`:
// the connection added with the CLI from the IdP's metadata URL, the IdP
// given admit's SP metadata, and an employee following the intranet link
// in Chromium, signing in at the IdP and arriving provisioned (the IdP
// encrypts the assertion to admit's certificate from the metadata).
func TestSAMLLoginInBrowser(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	console := watchConsole(ctx)
	addr := freeAddr(t)
	idp := samlIdP(t)
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), testKey,
		"ADMIT_ADDR=" + addr, "ADMIT_BASE_URL=http://" + addr, allowLoopback}
	cli := func(args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), "", args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	cli("account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "example.com")
	added := decode[map[string]any](t, cli("sso", "add-saml", "--account", "acme", "--name", "okta", "--metadata-url", idp.URL+"/metadata", "--json"))
	// A second connection to the same IdP as if it took AuthnRequests only
	// by HTTP-POST: admit then answers the link with a page that posts. Its
	// metadata offers single logout (HTTP-Redirect) too.
	postOnly := filepath.Join(t.TempDir(), "post-only.xml")
	md := strings.ReplaceAll(getBody(t, idp.URL+"/metadata"), saml.HTTPRedirectBinding, saml.HTTPArtifactBinding)
	md = strings.Replace(md, "<SingleSignOnService ", `<SingleLogoutService Binding="`+saml.HTTPRedirectBinding+`" Location="`+idp.URL+`/slo"></SingleLogoutService><SingleSignOnService `, 1)
	if err := os.WriteFile(postOnly, []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	cli("sso", "add-saml", "--account", "acme", "--name", "post", "--metadata-file", postOnly)
	s := startServer(t, t.TempDir(), settings...)

	resp, spMetadata := s.get(t, "/sso/acme/saml/okta/metadata")
	if resp.StatusCode != http.StatusOK || added["metadata_url"] != s.url+"/sso/acme/saml/okta/metadata" || added["idp_metadata_url"] != idp.URL+"/metadata" {
		t.Fatalf("SP metadata: %d, add-saml said %v", resp.StatusCode, added["metadata_url"])
	}
	put(t, idp.URL+"/services/admit", "application/xml", spMetadata)
	put(t, idp.URL+"/services/post", "application/xml", getBody(t, s.url+"/sso/acme/saml/post/metadata"))
	putIdPUser(t, idp.URL, "nia", "nia@example.com", "Nia", "Ng")

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/sso/acme/login?connection=okta"),
		chromedp.WaitVisible(`input[name=user]`), // the IdP's login form
		chromedp.SendKeys(`input[name=user]`, "nia"),
		chromedp.SendKeys(`input[name=password]`, "pw-nia"),
		// samlidp's login form posts to its /login, which only opens an
		// IdP session; posted to /sso, the same fields answer the
		// AuthnRequest (as the sso package's tests do).
		chromedp.Evaluate[chromedp.Void](`document.forms[0].action = location.origin + "/sso"`),
		chromedp.Click(`input[type=submit]`),
		chromedp.WaitVisible(`#current-account`), // posted to the ACS, signed in
	)
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, s.logs)
	}
	expectSignedIn(t, ctx, "Acme Inc", "nia@example.com")
	attempts := decode[[]map[string]any](t, cli("sso", "attempts", "--account", "acme", "--connection", "okta", "--json"))
	if len(attempts) != 1 || attempts[0]["Outcome"] != "signed in" || attempts[0]["Reason"] != "created user" {
		t.Errorf("login log: %v", attempts)
	}

	// The HTTP-POST binding: admit's page posts the request by script,
	// under its CSP; the IdP knows Nia already and answers at once.
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/sso/acme/login?connection=post&return_to=/me"),
		chromedp.WaitVisible(`#current-account`),
	)
	if err != nil {
		t.Fatalf("HTTP-POST binding: %v; the browser is at %s\n%s", err, browserAt(ctx), s.logs)
	}
	attempts = decode[[]map[string]any](t, cli("sso", "attempts", "--account", "acme", "--connection", "post", "--json"))
	if len(attempts) != 1 || attempts[0]["Outcome"] != "signed in" {
		t.Errorf("login log of the HTTP-POST connection: %v", attempts)
	}

	// Signing out of that session continues at the IdP's single logout
	// URL with admit's signed LogoutRequest: admit's page follows it by
	// script, as the CSP's form-action would stop a redirect that follows
	// the sign-out form. (samlidp serves nothing there; package sso's
	// tests take the answer.)
	if err := chromedp.Do(ctx, chromedp.Click(`form[action="/logout"] button`)); err != nil {
		t.Fatal(err)
	}
	// The page navigates away by itself: polled from outside, as a wait
	// inside the page ends with the page.
	at := ""
	for deadline := time.Now().Add(15 * time.Second); !strings.HasPrefix(at, idp.URL+"/slo?SAMLRequest=") && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		at, _ = chromedp.Run(ctx, chromedp.Location())
	}
	if !strings.HasPrefix(at, idp.URL+"/slo?SAMLRequest=") || !strings.Contains(at, "&Signature=") {
		t.Errorf("signing out did not continue at the IdP %s: the browser is at %s\n%s", idp.URL, browserAt(ctx), s.logs)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.url+"/me")); err != nil {
		t.Fatal(err)
	}
	if at, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(at, s.url+"/login") {
		t.Errorf("/me after signing out: %v, at %s; want the sign-in page", err, at)
	}
	if problems := console.problems(ctx, s.url); len(problems) > 0 {
		t.Errorf("console of admit's pages:\n%s", strings.Join(problems, "\n"))
	}
	s.stop(t)
}
