package sso_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/npmtest"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// The second identity provider of the end-to-end tests: samlify, a Node.js
// SAML library that shares no code with crewjam/saml, run from
// testdata/nodeidp/idp.js. What admit accepts from crewjam's samlidp it
// must accept from an IdP written by someone else, and refuse the same
// forgeries.

const nodeIdPDir = "testdata/nodeidp"

// nodeIdP is idp.js running under node on a loopback port.
type nodeIdP struct {
	url    string
	client *http.Client
}

// startNodeIdP starts the samlify IdP with a fresh signing key and waits
// (boundedly) for it to listen; t.Cleanup stops it.
func startNodeIdP(t testing.TB) *nodeIdP {
	t.Helper()
	node := npmtest.Tool(t, "node")
	modules := filepath.Join(npmtest.Install(t, nodeIdPDir), "node_modules")
	script, err := filepath.Abs(filepath.Join(nodeIdPDir, "idp.js"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key, cert := keyPair(t, "samlify idp")
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(node, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "IDP_KEY_FILE="+keyFile, "IDP_CERT_FILE="+certFile, "IDP_PORT=0")
	stdout := &announcement{url: make(chan string, 1)}
	stderr := &idpOutput{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The IdP exits when its stdin closes, so it cannot outlive a test
	// binary that dies before its cleanups run.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("samlify IdP stderr:\n%s", stderr)
		}
	})
	select {
	case u := <-stdout.url:
		return &nodeIdP{url: u, client: &http.Client{Timeout: 20 * time.Second}}
	case <-exited:
		t.Fatalf("the samlify IdP exited before listening:\n%s%s", stdout, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("the samlify IdP did not listen within 30 s:\n%s%s", stdout, stderr)
	}
	return nil
}

// announcement keeps the IdP's stdout and sends the URL of its
// "listening on URL" line.
type announcement struct {
	idpOutput
	once sync.Once
	url  chan string
}

func (a *announcement) Write(p []byte) (int, error) {
	n, err := a.idpOutput.Write(p)
	for _, line := range strings.SplitAfter(a.String(), "\n") {
		if u, ok := strings.CutPrefix(line, "listening on "); ok && strings.HasSuffix(u, "\n") {
			a.once.Do(func() { a.url <- strings.TrimSpace(u) })
		}
	}
	return n, err
}

// idpOutput collects what the IdP writes, for the failure message.
type idpOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *idpOutput) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *idpOutput) Len() int { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Len() }

func (s *idpOutput) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func (p *nodeIdP) do(t testing.TB, method, path, contentType, body string) string {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s at the samlify IdP: %s %s", method, path, resp.Status, b)
	}
	return string(b)
}

// nodeUser is the person the IdP signs in as: NameID is an opaque
// persistent id, so the email must come from the mail attribute.
type nodeUser struct {
	NameID    string   `json:"nameid"`
	Email     string   `json:"email"`
	GivenName string   `json:"given_name"`
	Surname   string   `json:"surname"`
	Groups    []string `json:"groups"`
}

func (p *nodeIdP) setUser(t testing.TB, u nodeUser) {
	b, _ := json.Marshal(u)
	p.do(t, http.MethodPut, "/test/user", "application/json", string(b))
}

// connect adds a SAML connection from the IdP's metadata to the world's
// account, and gives the IdP admit's SP metadata for it.
func (p *nodeIdP) connect(t testing.TB, w *world, name string, encrypt bool) directory.Connection {
	t.Helper()
	c, err := w.svc.CreateConnection(context.Background(), w.acme.ID, operator, directory.NewConnection{
		Protocol: directory.ProtocolSAML, Name: name, Metadata: p.do(t, http.MethodGet, "/metadata", "", ""),
		Settings: directory.ConnectionSettings{AllowIDPInitiated: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	md := w.get(w.sp.URL + "/sso/acme/saml/" + name + "/metadata")
	q := ""
	if encrypt {
		q = "?encrypt=1"
	} else {
		// samlify encrypts only when told to (encrypt=1); without admit's
		// encryption key the plain connection stays plain whatever
		// samlify's defaults become, and the tests can edit its assertion.
		md = dropEncryption(md)
	}
	p.do(t, http.MethodPut, "/test/sp"+q, "application/xml", md)
	return c
}

// nodeResponse starts an SP-initiated login at admit's intranet link,
// follows admit's redirect (the signed AuthnRequest) to the IdP and
// returns the auto-post form the IdP answers with.
func (b *browser) nodeResponse(t testing.TB, p *nodeIdP, connection, returnTo string) (string, url.Values) {
	t.Helper()
	start := b.get(b.w.sp.URL + "/sso/acme/login?connection=" + connection + "&return_to=" + url.QueryEscape(returnTo))
	if start.status != http.StatusFound || !strings.HasPrefix(start.location, p.url+"/sso?") {
		t.Fatalf("intranet link: %d %s %s", start.status, start.location, start.body)
	}
	return nodeForm(t, b.get(start.location))
}

// nodeInitiated is an IdP-initiated login: the IdP's form, unasked.
func (b *browser) nodeInitiated(t testing.TB, p *nodeIdP, connection, relayState string) (string, url.Values) {
	t.Helper()
	entity := sso.SAMLURLs(b.w.sp.URL, "acme", connection).EntityID
	return nodeForm(t, b.get(p.url+"/test/initiate?sp="+url.QueryEscape(entity)+"&relay_state="+url.QueryEscape(relayState)))
}

func nodeForm(t testing.TB, answer page) (string, url.Values) {
	t.Helper()
	acs, form := fields(answer.body)
	if answer.status != http.StatusOK || form.Get("SAMLResponse") == "" {
		t.Fatalf("the samlify IdP gave no SAMLResponse: %d %s", answer.status, answer.body)
	}
	return acs, form
}

// accepted posts the form to admit's ACS and fails, with admit's reason
// and the response, unless admit signs the browser in and sends it to want.
func (b *browser) accepted(t testing.TB, c directory.Connection, acs string, form url.Values, want string) {
	t.Helper()
	p := b.post(acs, form)
	if p.status != http.StatusSeeOther || p.location != want {
		at := b.w.lastAttempt(c)
		t.Fatalf("admit did not accept samlify's response: %d %q, want 303 %q\nlogin log: %s %q %s\nresponse:\n%s",
			p.status, p.location, want, at.Outcome, at.Reason, at.Detail, decode(t, form))
	}
}

// refused posts the form and fails unless admit refuses it and its login
// log gives a reason mentioning reason.
func (b *browser) refused(t testing.TB, c directory.Connection, acs string, form url.Values, reason string) {
	t.Helper()
	p := b.post(acs, form)
	if p.status != http.StatusForbidden {
		t.Fatalf("not refused: %d %q (signed in as %q)", p.status, p.location, b.me())
	}
	at := b.w.lastAttempt(c)
	if at.Outcome != "refused" || !strings.Contains(at.Reason, reason) {
		t.Errorf("login log: %s %q; want the reason to mention %q", at.Outcome, at.Reason, reason)
	}
}

func TestNodeIdPLogins(t *testing.T) {
	t.Parallel()
	p := startNodeIdP(t)
	alice := nodeUser{NameID: "u-7f3a9c", Email: "alice@example.com", GivenName: "Alice", Surname: "Smith", Groups: []string{"Engineering"}}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		c := p.connect(t, w, "samlify", false)
		ctx := context.Background()
		p.setUser(t, alice)

		t.Run("first SP-initiated login creates the user", func(t *testing.T) {
			b := w.browser()
			acs, form := b.nodeResponse(t, p, "samlify", "/reports?week=3")
			if want := sso.SAMLURLs(w.sp.URL, "acme", "samlify").ACS; acs != want {
				t.Errorf("the IdP posts to %q, not admit's ACS %q", acs, want)
			}
			xml := decode(t, form)
			if strings.Contains(xml, "EncryptedAssertion") || strings.Count(xml, "</ds:Signature>") != 1 || !strings.Contains(xml, "urn:oid:0.9.2342.19200300.100.1.3") {
				t.Fatalf("not the response this test is about (one signature, plain assertion, OID attributes):\n%s", xml)
			}
			b.accepted(t, c, acs, form, "/reports?week=3")
			if got := b.me(); got != "alice@example.com acme member Alice Smith" {
				t.Errorf("signed in as %q", got)
			}
			if at := w.lastAttempt(c); at.Outcome != "signed in" || at.Reason != "created user" {
				t.Errorf("login log: %+v", at)
			}
		})

		t.Run("samlify verifies admit's AuthnRequest signature", func(t *testing.T) {
			// The logins above and below start with samlify accepting
			// admit's signed, schema-checked AuthnRequest; that means
			// something only if it refuses a bad signature.
			start := w.browser().get(w.sp.URL + "/sso/acme/login?connection=samlify")
			u, err := url.Parse(start.location)
			if err != nil || u.Query().Get("Signature") == "" {
				t.Fatalf("admit's redirect carries no signature: %d %q", start.status, start.location)
			}
			q := u.Query()
			sig, letter := q.Get("Signature"), "A"
			if sig[10] == 'A' {
				letter = "B"
			}
			q.Set("Signature", sig[:10]+letter+sig[11:])
			u.RawQuery = q.Encode()
			if got := w.browser().get(u.String()); got.status != http.StatusBadRequest || !strings.Contains(got.body, "SIGNATURE_VERIFICATION") {
				t.Errorf("a forged AuthnRequest signature: %d %s", got.status, got.body)
			}
		})

		t.Run("a second login updates the name, and the groups give the role", func(t *testing.T) {
			if _, _, err := w.svc.MapGroupToRole(ctx, w.acme.ID, operator, "Admins", directory.RoleAdmin, nil); err != nil {
				t.Fatal(err)
			}
			p.setUser(t, nodeUser{NameID: alice.NameID, Email: alice.Email, GivenName: "Alicia", Surname: "Smith-Jones", Groups: []string{"Engineering", "Admins"}})
			defer p.setUser(t, alice)
			b := w.browser()
			acs, form := b.nodeResponse(t, p, "samlify", "")
			b.accepted(t, c, acs, form, "/me")
			if got := b.me(); got != "alice@example.com acme admin Alicia Smith-Jones" {
				t.Errorf("signed in as %q", got)
			}
			if at := w.lastAttempt(c); at.Outcome != "signed in" || at.Reason == "created user" {
				t.Errorf("login log: %+v", at)
			}
		})

		t.Run("a replayed response is refused", func(t *testing.T) {
			b := w.browser()
			acs, form := b.nodeResponse(t, p, "samlify", "")
			b.accepted(t, c, acs, form, "/me")
			// Again from the same browser, and from another: the
			// assertion is used up either way.
			b.refused(t, c, acs, form, "already used")
			other := w.browser()
			other.refused(t, c, acs, form, "already used")
			if got := other.me(); got != "" {
				t.Errorf("the replaying browser is signed in as %q", got)
			}
		})

		t.Run("an email changed in the signed assertion is refused", func(t *testing.T) {
			b := w.browser()
			acs, form := b.nodeResponse(t, p, "samlify", "")
			forged := editResponse(t, form, func(x string) string {
				return strings.ReplaceAll(x, ">alice@example.com<", ">ceo@example.com<")
			})
			b.refused(t, c, acs, forged, "Signature could not be verified")
			if got := b.me(); got != "" {
				t.Errorf("signed in as %q", got)
			}
			if _, err := w.svc.Member(ctx, w.acme.ID, "ceo@example.com"); directory.KindOf(err) != directory.NotFound {
				t.Errorf("ceo@example.com: %v", err)
			}
			// The untouched response from the same login still works: the
			// refusal was the edit's doing, not samlify's.
			b.accepted(t, c, acs, form, "/me")
		})

		t.Run("IdP-initiated login lands on RelayState; its replay hits the replay cache", func(t *testing.T) {
			b := w.browser()
			acs, form := b.nodeInitiated(t, p, "samlify", "/projects/7")
			if strings.Contains(decode(t, form), "InResponseTo") {
				t.Fatal("an unsolicited response with InResponseTo: the test proves nothing")
			}
			b.accepted(t, c, acs, form, "/projects/7")
			if got := b.me(); !strings.HasPrefix(got, "alice@example.com acme") {
				t.Errorf("signed in as %q", got)
			}
			w.browser().refused(t, c, acs, form, "already used")
		})

		t.Run("IdP-initiated single logout ends the session; samlify verifies admit's answer", func(t *testing.T) {
			entity := sso.SAMLURLs(w.sp.URL, "acme", "samlify").EntityID
			for _, binding := range []string{"redirect", "post"} {
				b := w.browser()
				acs, form := b.nodeResponse(t, p, "samlify", "")
				b.accepted(t, c, acs, form, "/me")
				start := b.get(p.url + "/test/logout?sp=" + url.QueryEscape(entity) + "&binding=" + binding + "&relay_state=idp-state-1")
				var answer page
				if binding == "redirect" {
					if start.status != http.StatusFound || !strings.HasPrefix(start.location, sso.SAMLURLs(w.sp.URL, "acme", "samlify").SLO+"?") {
						t.Fatalf("samlify's LogoutRequest: %d %q %s", start.status, start.location, start.body)
					}
					answer = b.get(start.location)
				} else {
					slo, form := fields(start.body)
					answer = b.post(slo, form)
				}
				if got := b.me(); got != "" {
					t.Errorf("%s: still signed in as %q after samlify's LogoutRequest\nlogin log: %+v", binding, got, w.lastAttempt(c))
				}
				var verdict page
				switch {
				case answer.status == http.StatusFound && strings.HasPrefix(answer.location, p.url+"/slo?"):
					verdict = b.get(answer.location)
				case answer.status == http.StatusOK && strings.Contains(answer.body, `name="SAMLResponse"`):
					slo, form := fields(answer.body)
					verdict = b.post(slo, form)
				default:
					t.Fatalf("%s: admit did not answer at samlify's single logout URL: %d %q\nlogin log: %+v\n%s", binding, answer.status, answer.location, w.lastAttempt(c), answer.body)
				}
				if verdict.status != http.StatusOK || !strings.Contains(verdict.body, `"verified":true`) || !strings.Contains(verdict.body, `"relayState":"idp-state-1"`) {
					t.Errorf("%s: samlify on admit's LogoutResponse: %d %s", binding, verdict.status, verdict.body)
				}
				if at := w.lastAttempt(c); at.Outcome != sso.OutcomeSignedOut || !strings.Contains(at.Reason, "alice@example.com") {
					t.Errorf("%s: login log %+v", binding, at)
				}
			}
		})

		t.Run("an unsigned samlify LogoutRequest is refused", func(t *testing.T) {
			b := w.browser()
			acs, form := b.nodeResponse(t, p, "samlify", "")
			b.accepted(t, c, acs, form, "/me")
			start := b.get(p.url + "/test/logout?sp=" + url.QueryEscape(sso.SAMLURLs(w.sp.URL, "acme", "samlify").EntityID) + "&binding=redirect&sign=0")
			if u, _ := url.Parse(start.location); start.status != http.StatusFound || u.Query().Get("Signature") != "" {
				t.Fatalf("samlify did not send an unsigned LogoutRequest: %d %q", start.status, start.location)
			}
			if got := b.get(start.location); got.status != http.StatusForbidden {
				t.Errorf("an unsigned LogoutRequest: %d %q", got.status, got.location)
			}
			if b.me() == "" {
				t.Error("an unsigned LogoutRequest signed alice out")
			}
		})

		t.Run("signing out of admit continues at samlify, which verifies the request and confirms", func(t *testing.T) {
			signOut := func(t *testing.T) (*browser, string) {
				t.Helper()
				b := w.browser()
				acs, form := b.nodeResponse(t, p, "samlify", "")
				b.accepted(t, c, acs, form, "/me")
				out := b.post(w.sp.URL+"/logout", nil)
				m := regexp.MustCompile(`href="([^"]+)" data-autofollow`).FindStringSubmatch(out.body)
				if out.status != http.StatusOK || m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), p.url+"/slo?") {
					t.Fatalf("signing out did not lead to samlify: %d %s", out.status, out.body)
				}
				if got := b.me(); got != "" {
					t.Fatalf("signed in as %q after signing out of admit", got)
				}
				return b, html.UnescapeString(m[1])
			}
			b, to := signOut(t)
			answer := b.get(to)
			if answer.status != http.StatusFound || !strings.HasPrefix(answer.location, sso.SAMLURLs(w.sp.URL, "acme", "samlify").SLO+"?") {
				t.Fatalf("samlify on admit's LogoutRequest: %d %q %s", answer.status, answer.location, answer.body)
			}
			if got := b.get(answer.location); got.status != http.StatusSeeOther || got.location != "/logout?signed_out=1" {
				t.Errorf("samlify's LogoutResponse: %d %q; want confirmed\nlogin log: %+v", got.status, got.location, w.lastAttempt(c))
			}
			if at := w.lastAttempt(c); at.Outcome != sso.OutcomeLogoutConfirmed || !at.Verified {
				t.Errorf("login log: %+v", at)
			}

			// samlify checks the signature: a forged one is refused there.
			_, to = signOut(t)
			u, _ := url.Parse(to)
			q := u.Query()
			sig, letter := q.Get("Signature"), "A"
			if sig[10] == 'A' {
				letter = "B"
			}
			q.Set("Signature", sig[:10]+letter+sig[11:])
			u.RawQuery = q.Encode()
			if got := w.browser().get(u.String()); got.status != http.StatusBadRequest || !strings.Contains(got.body, "SIGNATURE_VERIFICATION") {
				t.Errorf("a forged LogoutRequest signature at samlify: %d %s", got.status, got.body)
			}

			// samlify answering that it could not sign the person out:
			// admit says the identity provider did not confirm.
			p.do(t, http.MethodPut, "/test/logout-status", "text/plain", "urn:oasis:names:tc:SAML:2.0:status:Responder")
			defer p.do(t, http.MethodPut, "/test/logout-status", "text/plain", "")
			b, to = signOut(t)
			answer = b.get(to)
			if got := b.get(answer.location); got.location != "/logout?signed_out=1&idp=unconfirmed" {
				t.Errorf("samlify's Responder status: %d %q; want not confirmed", got.status, got.location)
			}
			if at := w.lastAttempt(c); at.Outcome != sso.OutcomeLogoutUnconfirmed || !strings.Contains(at.Reason, "Responder") {
				t.Errorf("login log: %+v", at)
			}
		})

		t.Run("an encrypted assertion is accepted", func(t *testing.T) {
			enc := p.connect(t, w, "samlify-enc", true)
			b := w.browser()
			acs, form := b.nodeResponse(t, p, "samlify-enc", "")
			if !strings.Contains(decode(t, form), "EncryptedAssertion") {
				t.Fatal("samlify did not encrypt: the test proves nothing")
			}
			b.accepted(t, enc, acs, form, "/me")
			if got := b.me(); !strings.HasPrefix(got, "alice@example.com acme") {
				t.Errorf("signed in as %q", got)
			}
		})
	})
}
