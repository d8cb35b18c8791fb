package sso_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	stdlog "log"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var operator = directory.Actor{Source: directory.SourceCLI, Name: "test"}

// tamper lets a test change the assertion the real IdP makes before the
// IdP signs it: the IdP code stays crewjam's own, only its output differs.
type tamper struct {
	mu sync.Mutex
	fn func(*saml.Assertion)
}

func (t *tamper) set(fn func(*saml.Assertion)) {
	t.mu.Lock()
	t.fn = fn
	t.mu.Unlock()
}

func (t *tamper) MakeAssertion(req *saml.IdpAuthnRequest, session *saml.Session) error {
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fn != nil {
		t.fn(req.Assertion)
	}
	return nil
}

// world is admit's SSO handler and crewjam's samlidp, each on its own TLS
// server on loopback, with account acme (example.com) connected to the IdP
// twice: "okta" (plain assertions, IdP-initiated allowed, groups from
// eduPersonAffiliation) and "strict" (encrypted assertions, SP-initiated only).
type world struct {
	t      testing.TB
	svc    *directory.Service
	acme   directory.Account
	sp     *httptest.Server
	idp    *httptest.Server
	idpSrv *samlidp.Server
	// idpKey and idpCert are the IdP's signing key pair: the tests of
	// single logout sign the provider's messages with them.
	idpKey  *rsa.PrivateKey
	idpCert *x509.Certificate
	tamper  *tamper
	store   *store.Store
	certs   *certs.Manager
	sealer  *certs.Sealer
	// stateKey seals pending sign-ins; replicas share it.
	stateKey []byte
	// metrics is the registry admit's SSO metrics are in.
	metrics *prometheus.Registry
	// fetch reaches the test providers: they run on loopback, which
	// admit reaches only when allowed, as an operator would allow a
	// provider on the company's network.
	fetch  *fetch.Client
	okta   directory.Connection
	strict directory.Connection
}

func newWorld(t testing.TB, s *store.Store) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, tamper: &tamper{}, store: s, metrics: prometheus.NewRegistry()}
	w.svc = directory.NewService(directory.Config{Store: s, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
	var err error
	if w.acme, err = w.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Acme", Domains: []string{"example.com"}}); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, _ := certs.NewSealer(key)
	manager := certs.New(certs.Config{Store: s, Sealer: sealer})
	w.certs, w.sealer = manager, sealer
	w.stateKey = make([]byte, 32)
	_, _ = rand.Read(w.stateKey)
	log := slog.New(slog.DiscardHandler)
	pages, err := web.NewRenderer(web.Config{Key: key, Logger: log})
	if err != nil {
		t.Fatal(err)
	}

	// admit, its base URL known only once the server listens.
	var handler http.Handler
	w.sp = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { handler.ServeHTTP(rw, r) }))
	w.sp.StartTLS()
	t.Cleanup(w.sp.Close)
	w.fetch = localFetch(t, w.sp.Certificate())
	h, err := sso.New(sso.Config{Directory: w.svc, Certs: manager, Secrets: sealer, StateKey: w.stateKey, Metrics: w.metrics, Pages: pages, BaseURL: w.sp.URL, Logger: log, Fetch: w.fetch})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	// A stand-in for the signed-in home page: who the session is.
	cookie := web.SessionCookie{}
	mux.HandleFunc("GET /me", func(rw http.ResponseWriter, r *http.Request) {
		v, err := w.svc.Authenticate(r.Context(), cookie.Token(r))
		if err != nil {
			http.Error(rw, "signed out", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(rw, "%s %s %s %s %s", v.User.Email, v.Account.Slug, v.Membership.Role, v.User.FirstName, v.User.LastName)
	})
	// A stand-in for package login's sign-out: the session ends, and a
	// SAML one goes on to its identity provider (ContinueLogout).
	mux.HandleFunc("POST /logout", func(rw http.ResponseWriter, r *http.Request) {
		out, err := w.svc.SignOut(r.Context(), cookie.Token(r))
		if err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		cookie.Clear(rw)
		if !h.ContinueLogout(rw, r, out) {
			fmt.Fprint(rw, "signed out")
		}
	})
	handler = web.RequestID(mux)

	// The identity provider.
	w.idp = httptest.NewUnstartedServer(nil)
	w.idp.StartTLS()
	t.Cleanup(w.idp.Close)
	w.idpKey, w.idpCert = keyPair(t, "idp")
	idpURL, _ := url.Parse(w.idp.URL)
	w.idpSrv, err = samlidp.New(samlidp.Options{URL: *idpURL, Key: w.idpKey, Certificate: w.idpCert, Store: &samlidp.MemoryStore{}, Logger: stdlog.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	// Its metadata offers single logout (HTTP-Redirect), where admit
	// sends a person signing out; samlidp serves nothing there, so the
	// tests answer for it, signed with its key.
	w.idpSrv.IDP.LogoutURL = *idpURL.JoinPath("/slo")
	w.idpSrv.IDP.AssertionMaker = w.tamper
	w.idp.Config.Handler = w.idpSrv
	metadata := w.get(w.idp.URL + "/metadata")

	if w.okta, err = w.svc.CreateConnection(ctx, w.acme.ID, operator, directory.NewConnection{
		Protocol: directory.ProtocolSAML, Name: "okta", Metadata: metadata,
		Settings: directory.ConnectionSettings{AllowIDPInitiated: true, Mapping: directory.AttributeMapping{Groups: "eduPersonAffiliation"}},
	}); err != nil {
		t.Fatal(err)
	}
	if w.strict, err = w.svc.CreateConnection(ctx, w.acme.ID, operator, directory.NewConnection{
		Protocol: directory.ProtocolSAML, Name: "strict", Metadata: metadata,
	}); err != nil {
		t.Fatal(err)
	}
	// The IdP learns both SPs from admit's metadata; okta's without the
	// encryption key, so that its assertions travel in the clear and the
	// attack tests can reach into them.
	w.registerSP("okta", dropEncryption(w.get(w.sp.URL+"/sso/acme/saml/okta/metadata")))
	w.registerSP("strict", w.get(w.sp.URL+"/sso/acme/saml/strict/metadata"))
	w.addUser("alice", "alice@example.com", "Alice", "Smith", "Engineering")
	return w
}

// localFetch is the guarded client with loopback allowed
// (ADMIT_OUTBOUND_ALLOW=127.0.0.0/8), trusting the test servers'
// certificate.
func localFetch(t testing.TB, cert *x509.Certificate) *fetch.Client {
	t.Helper()
	allow, err := fetch.ParseAllow("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return fetch.New(fetch.Config{Allow: allow, RootCAs: pool})
}

func keyPair(t testing.TB, cn string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

var encryptionKD = regexp.MustCompile(`(?s)<md:KeyDescriptor use="encryption">.*?</md:KeyDescriptor>|<KeyDescriptor use="encryption">.*?</KeyDescriptor>`)

func dropEncryption(md string) string { return encryptionKD.ReplaceAllString(md, "") }

func (w *world) get(u string) string {
	w.t.Helper()
	resp, err := w.sp.Client().Get(u)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	return string(b)
}

func (w *world) put(u, contentType, body string) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := w.idp.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		w.t.Fatalf("PUT %s: %s", u, resp.Status)
	}
}

func (w *world) registerSP(name, metadata string) {
	w.put(w.idp.URL+"/services/"+name, "application/xml", metadata)
}

// addUser gives the IdP a user whose password is "pw-" and their name.
// The IdP keeps a bcrypt hash, made here at the lowest cost: one it made
// itself from the password, at bcrypt's default cost, was most of what
// this package's tests spent under -race (once per user put and once per
// login, which checks the password against it).
func (w *world) addUser(name, email, given, surname string, groups ...string) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw-"+name), bcrypt.MinCost)
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"name": name, "hashed_password": hash, "email": email, "given_name": given, "surname": surname, "groups": groups})
	w.put(w.idp.URL+"/users/"+name, "application/json", string(b))
}

// browser is one browser: its own cookies, redirects followed by hand.
type browser struct {
	w      *world
	client *http.Client
}

func (w *world) browser() *browser {
	jar, _ := cookiejar.New(nil)
	// A copy: the server's client is one, and each browser has its own
	// cookies. It trusts the test certificate both servers use.
	c := new(http.Client)
	*c = *w.sp.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{w: w, client: c}
}

type page struct {
	status   int
	location string
	body     string
}

func (b *browser) do(req *http.Request) page {
	b.w.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.w.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var formField = regexp.MustCompile(`name="(\w+)" value="([^"]*)"`)
var formAction = regexp.MustCompile(`action="([^"]*)"`)

// fields reads the hidden fields and target of the HTML form on a page.
func fields(body string) (string, url.Values) {
	v := url.Values{}
	for _, m := range formField.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	action := ""
	if m := formAction.FindStringSubmatch(body); m != nil {
		action = html.UnescapeString(m[1])
	}
	return action, v
}

// samlResponse starts an SP-initiated login at admit's intranet link and
// signs in at the IdP; it returns the ACS URL and the form the IdP's page
// would post there.
func (b *browser) samlResponse(connection, user, returnTo string) (string, url.Values) {
	b.w.t.Helper()
	start := b.get(b.w.sp.URL + "/sso/acme/login?connection=" + connection + "&return_to=" + url.QueryEscape(returnTo))
	if start.status != http.StatusFound || !strings.HasPrefix(start.location, b.w.idp.URL+"/sso?") {
		b.w.t.Fatalf("intranet link: %d %s %s", start.status, start.location, start.body)
	}
	login := b.get(start.location)
	_, form := fields(login.body)
	form.Set("user", user)
	form.Set("password", "pw-"+user)
	answer := b.post(b.w.idp.URL+"/sso", form)
	acs, resp := fields(answer.body)
	if resp.Get("SAMLResponse") == "" {
		b.w.t.Fatalf("IdP gave no SAMLResponse: %d %s", answer.status, answer.body)
	}
	return acs, resp
}

// idpInitiated signs in at the IdP and follows its shortcut to the SP.
func (b *browser) idpInitiated(connection, user, relayState string) (string, url.Values) {
	b.w.t.Helper()
	b.w.put(b.w.idp.URL+"/shortcuts/"+connection, "application/json",
		fmt.Sprintf(`{"name":%q,"service_provider":%q,"relay_state":%q}`, connection, sso.SAMLURLs(b.w.sp.URL, "acme", connection).EntityID, relayState))
	if p := b.post(b.w.idp.URL+"/login", url.Values{"user": {user}, "password": {"pw-" + user}}); p.status != http.StatusOK {
		b.w.t.Fatalf("IdP login: %d %s", p.status, p.body)
	}
	answer := b.get(b.w.idp.URL + "/login/" + connection)
	acs, resp := fields(answer.body)
	if resp.Get("SAMLResponse") == "" {
		b.w.t.Fatalf("IdP gave no SAMLResponse: %d %s", answer.status, answer.body)
	}
	return acs, resp
}

// me is who the browser is signed in as at admit.
func (b *browser) me() string {
	p := b.get(b.w.sp.URL + "/me")
	if p.status != http.StatusOK {
		return ""
	}
	return p.body
}

// editResponse decodes a SAMLResponse, applies edit to its XML and encodes it again.
func editResponse(t testing.TB, form url.Values, edit func(string) string) url.Values {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(form.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	edited := edit(string(raw))
	if edited == string(raw) {
		t.Fatalf("the edit changed nothing in %.300s…", raw)
	}
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	out.Set("SAMLResponse", base64.StdEncoding.EncodeToString([]byte(edited)))
	return out
}

// lastAttempt is the newest entry of the connection's login log.
func (w *world) lastAttempt(c directory.Connection) directory.LoginAttempt {
	w.t.Helper()
	all, err := w.svc.LoginAttempts(context.Background(), w.acme.ID, c.ID, 1)
	if err != nil || len(all) == 0 {
		w.t.Fatalf("no login attempt recorded: %v", err)
	}
	return all[0]
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// logins reads admit_sso_logins_total for a protocol and outcome.
func (w *world) logins(protocol, outcome string) float64 {
	w.t.Helper()
	families, err := w.metrics.Gather()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "admit_sso_logins_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["protocol"] == protocol && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
